"""What the tests know about the shipped library: the cell each shipped protocol is meant for."""

from __future__ import annotations

#: protocol → the shipped cell it runs on (so that an unmutated pair validates and runs)
USUAL_CELL: dict[str, str] = {
    "ccd-ramp": "li-qse-li",
    "eis-arrhenius": "ss-qse-ss",
    "eis-conductivity": "ss-qse-ss",
    "lco-rate": "lco-coin",
    "li-cu-ce": "li-qse-cu",
    "li-cu-nucleation": "li-qse-cu",
    "li-li-cycling": "li-qse-li",
    "lsv-window": "li-qse-ss",
    "ncm622-cycling": "ncm622-coin",
    "transference-bruce-vincent": "li-qse-li",
}
