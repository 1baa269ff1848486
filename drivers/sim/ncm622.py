"""``ncm622-li``: a LiNi0.6Co0.2Mn0.2O2 cathode against Li metal (a coin half-cell).

Open-circuit voltage against x, the fraction of the specified capacity extracted (0 =
fully lithiated, discharged; 1 = charged to 4.3 V). The knots follow the shape of
published slow-rate (C/10 … C/20, GITT-relaxed) NCM622‖Li half-cell curves in 3.0–4.3 V,
e.g. Noh et al., J. Power Sources 233 (2013) 121 (Li[Ni0.6Co0.2Mn0.2]O2, ≈175 mAh/g to
4.3 V): a steep tail from 3.0 V as the last Li goes in, ≈3.6–3.7 V soon after, the broad
single-phase slope through ≈3.75 V at half charge (the dQ/dV main peak near 3.7 V), a
steeper rise above 4.0 V to 4.3 V, and onward to ≈4.6 V at 120 % so that over-charge is
bounded (≈195–200 mAh/g at 4.5 V, as charging NCM622 to 4.5 V gives). The knots are placed
by hand on that shape, not digitised from one figure; between them the curve is PCHIP.

    x       OCV/V     x       OCV/V     x       OCV/V
   −0.020   2.500     0.100   3.665     0.800   4.000
    0.000   3.000     0.200   3.700     0.900   4.130
    0.005   3.250     0.300   3.725     0.950   4.210
    0.010   3.400     0.400   3.745     1.000   4.300
    0.020   3.520     0.500   3.770     1.050   4.370
    0.040   3.600     0.600   3.815     1.100   4.430
    0.070   3.640     0.700   3.900     1.150   4.490
                                        1.200   4.560

The [sim] table (defaults): resistance "30 ohm", polarization "60 mV" (the settled slow
overpotential at 1C; or polarization_resistance in ohm), polarization_time "600 s",
utilization 1.0, fade_per_cycle 0.0005, coulombic_efficiency 0.998 (cycles after the
first), first_cycle_efficiency 0.88 (the first charge of fresh material, insertion.py),
noise "0.2 mV", current_noise "1 nA", temperature "25 degC", initial_soc 0, seed.
"""

from __future__ import annotations

from cyclerctl.plan import CellSummary

from .curve import MonotoneCurve
from .insertion import InsertionCell, InsertionParameters

NAME = "ncm622-li"

OCV_KNOTS: tuple[tuple[float, float], ...] = (
    (-0.020, 2.500),
    (0.000, 3.000),
    (0.005, 3.250),
    (0.010, 3.400),
    (0.020, 3.520),
    (0.040, 3.600),
    (0.070, 3.640),
    (0.100, 3.665),
    (0.200, 3.700),
    (0.300, 3.725),
    (0.400, 3.745),
    (0.500, 3.770),
    (0.600, 3.815),
    (0.700, 3.900),
    (0.800, 4.000),
    (0.900, 4.130),
    (0.950, 4.210),
    (1.000, 4.300),
    (1.050, 4.370),
    (1.100, 4.430),
    (1.150, 4.490),
    (1.200, 4.560),
)

#: The first charge's efficiency on fresh NCM622: NCM622‖Li half cells cycled 3.0–4.3 V at
#: C/10 show a first-cycle CE of ~0.86–0.89 (first charge ~195–200 mAh/g, discharge
#: ~170–175 mAh/g); 0.88 sits inside that range. Later cycles: ``coulombic_efficiency``.
FIRST_CYCLE_EFFICIENCY = 0.88

OCV = MonotoneCurve([x for x, _ in OCV_KNOTS], [v for _, v in OCV_KNOTS])


def ncm622_li(cell: CellSummary) -> InsertionCell:
    """The model for one cell, its parameters read from ``cell.sim``."""
    return InsertionCell(
        InsertionParameters.from_cell(cell, first_cycle_efficiency=FIRST_CYCLE_EFFICIENCY), OCV
    )
