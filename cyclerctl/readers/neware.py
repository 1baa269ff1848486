"""Neware BTS files (``.ndax``, ``.nda``, and either zipped) through fastnda (BSD-3).

fastnda (github.com/g-kimbell/fastnda) is maintained, tested against BTSDA's own exports
of the same files, and reads every BTS version in ``../shared/data/neware``: it beats a
binary parser of our own. Columns used (fastnda's names): ``total_time_s`` → t,
``voltage_V`` → V, ``current_mA`` → I (A; Neware's sign is already charge-positive),
``capacity_mAh``/``energy_mWh`` (fastnda's charge − discharge within the step) → Q (C) /
E (J), ``step_count`` (the file's executed-step counter), ``step_index`` (the step's number
in the step file), ``step_type`` (Neware's code; names from fastnda's STEP_TYPE_MAP), the
first auxiliary temperature → T (K).

Cycles: ``cycle_numbering="file"`` (default) keeps the cycle index the file stores
(fastnda's ``cycle_mode="raw"``). BTSDA can also number cycles "a charge after a discharge
starts a cycle"; ``"charge"`` gives that (fastnda's ``"chg"``) for files whose vendor
export was made so (``test_2.ndax`` in the shared data).

fastnda reads a whole file into memory (the format is not read in chunks); records are
then handed on in chunks. fastnda's own warnings (e.g. an unreadable TestInfo.xml in
``Unit27_Example_Corrupt.ndax``: the records are complete, the auxiliary channels are not)
become the run's warnings: the readable part, said so.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cyclerctl.readers.base import (
    CHUNK_ROWS,
    ImportedRun,
    MissingExtra,
    ReadError,
    RunMetadata,
    records,
)

__all__ = ["NewareReader"]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _find(tree: Any, key: str) -> Any:
    """The first value under ``key`` anywhere in fastnda's nested metadata dicts."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        for value in tree.values():
            found = _find(value, key)
            if found is not None:
                return found
    return None


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y.%m.%d %H:%M:%S"):
        with contextlib.suppress(ValueError):
            return datetime.strptime(text, fmt)  # Neware keeps local time, zone unsaid
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(text)
    return None


class NewareReader:
    vendor: str = "neware"
    suffixes: tuple[str, ...] = (".ndax.zip", ".nda.zip", ".ndax", ".nda")

    def __init__(self, cycle_numbering: str = "file") -> None:
        if cycle_numbering not in ("file", "charge"):
            raise ValueError("cycle_numbering is 'file' or 'charge'")
        self.cycle_numbering = cycle_numbering

    def sniff(self, path: Path, head: bytes) -> bool:
        name = path.name.lower()
        if name.endswith((".ndax", ".nda.zip", ".ndax.zip")):
            return True
        # .nda: Neware's binary files begin with "NEWARE"
        return name.endswith(".nda") and head.startswith(b"NEWARE")

    def read(self, path: Path) -> Iterator[ImportedRun]:
        try:
            import fastnda
        except ImportError:
            raise MissingExtra(path, "fastnda") from None
        name = path.name.lower()
        if name.endswith(".zip"):
            with tempfile.TemporaryDirectory(prefix="cyclerctl-nda-") as tmp:
                inner = _unzip_one(path, Path(tmp))
                yield from self._read(fastnda, inner, path)
        else:
            yield from self._read(fastnda, path, path)

    def _read(self, fastnda: Any, path: Path, shown: Path) -> Iterator[ImportedRun]:
        collect = _Collect()
        log = logging.getLogger("fastnda")
        log.addHandler(collect)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "untested version" notes: not about data
                mode = "raw" if self.cycle_numbering == "file" else "chg"
                df = fastnda.read(path, cycle_mode=mode, raw_categories=True)
                try:
                    meta = fastnda.read_metadata(path)
                except Exception as exc:  # metadata is optional; the records are the data
                    collect.messages.append(f"metadata unreadable ({exc})")
                    meta = {}
        except Exception as exc:  # zip, struct, polars errors: fastnda on a damaged file
            reason = f"not a readable Neware file ({type(exc).__name__}: {exc})"
            raise ReadError(shown, reason) from exc
        finally:
            log.removeHandler(collect)
        if df.height == 0:
            raise ReadError(shown, "the file holds no records")
        notes = tuple(f"fastnda: {m}" for m in collect.messages)
        yield self._run(fastnda, df, meta, path, shown, notes)

    def _run(
        self,
        fastnda: Any,
        df: Any,
        meta: dict[str, Any],
        path: Path,
        shown: Path,
        notes: tuple[str, ...],
    ) -> ImportedRun:
        from fastnda.dicts import STEP_TYPE_MAP

        types = tuple(STEP_TYPE_MAP.get(code, f"type {code}") for code in range(256))
        temperature = next(
            (c for c in df.columns if c.startswith("aux") and c.endswith("temperature_degC")),
            None,
        )
        n = df.height

        def chunks() -> Iterator[Any]:
            for start in range(0, n, CHUNK_ROWS):
                part = df.slice(start, CHUNK_ROWS)
                block = records(part.height)
                block["t"] = part["total_time_s"].to_numpy()
                block["V"] = part["voltage_V"].to_numpy()
                block["I"] = part["current_mA"].to_numpy().astype(np.float64) * 1e-3
                block["Q"] = part["capacity_mAh"].to_numpy().astype(np.float64) * 3.6
                if "energy_mWh" in part.columns:
                    block["E"] = part["energy_mWh"].to_numpy().astype(np.float64) * 3.6
                if temperature is not None:
                    block["T"] = part[temperature].to_numpy().astype(np.float64) + 273.15
                block["step_count"] = part["step_count"].to_numpy()
                block["step_index"] = part["step_index"].to_numpy()
                block["cycle"] = part["cycle_count"].to_numpy()
                block["step_type"] = part["step_type"].to_numpy()
                yield block

        return ImportedRun(
            metadata=self._metadata(df, meta, path, notes),
            step_types=types,
            chunks=chunks,
            records=n,
            reader=f"fastnda {fastnda.__version__}",
        )

    def _metadata(
        self, df: Any, meta: dict[str, Any], path: Path, notes: tuple[str, ...]
    ) -> RunMetadata:
        suffix = path.suffix.lower()
        info = _find(meta, "TestInfo") if suffix == ".ndax" else None
        while isinstance(info, dict) and isinstance(info.get("TestInfo"), dict):
            info = info["TestInfo"]  # the file's <config><TestInfo …/> inside its own key
        info = info if isinstance(info, dict) else {}
        if suffix == ".nda":
            version = f"nda {meta.get('nda_version', '?')}"
            software = str(meta.get("client_version") or meta.get("server_version") or "")
            channel = str(meta.get("device_ip") or "")
            test_id = str(meta.get("test_id") or meta.get("sn") or "")
            start = _parse_time(meta.get("start_time"))
            mass_mg = meta.get("active_mass_mg")
            procedure = str(meta.get("step_name") or "")
        else:
            step_file = _find(meta, "EditStep") or _find(meta, "Step") or {}
            version = f"ndax (step file {step_file.get('version', '?')})"
            software = str(_find(meta, "SortVersion") or step_file.get("client_version") or "")
            parts = [info.get(k) for k in ("DevID", "UnitID", "ChlID")]
            channel = "-".join(str(p) for p in parts) if all(p is not None for p in parts) else ""
            test_id = str(info.get("TestID") or "")
            start = _parse_time(info.get("StartTime"))
            mass_mg = None
            procedure = str(info.get("StepName") or "")
        if start is None and "unix_time_s" in df.columns:
            start = datetime.fromtimestamp(float(df["unix_time_s"][0]), tz=UTC)
        mass = float(mass_mg) * 1e-6 if isinstance(mass_mg, int | float) and mass_mg > 0 else None
        remark = _find(meta, "Remark")
        return RunMetadata(
            vendor="neware",
            format_version=version,
            tester_channel=channel,
            test_id=test_id,
            start_time=start,
            active_mass_kg=mass,
            procedure=procedure,
            procedure_text=_program_text(meta),
            instrument={"model": "Neware BTS", "serial": "", "firmware": software},
            warnings=notes,
            extra={"remark": remark.get("Value", "") if isinstance(remark, dict) else ""},
        )


def _program_text(meta: dict[str, Any]) -> str:
    """The step program, one line per step (type code and its limits as the file says)."""
    step_file = _find(meta, "EditStep") or _find(meta, "Step")
    steps = step_file.get("Step_Info") if isinstance(step_file, dict) else None
    if not isinstance(steps, dict):
        return ""
    from fastnda.dicts import STEP_TYPE_MAP

    lines = []
    for key, step in steps.items():
        if key.startswith("Step") and isinstance(step, dict) and "Step_ID" in step:
            kind = STEP_TYPE_MAP.get(int(step.get("Step_Type", 0)), "?")
            lines.append(f"step {step['Step_ID']}: {kind} {step.get('Limit', '')}")
    return "\n".join(lines)


def _unzip_one(path: Path, into: Path) -> Path:
    """The one .nda/.ndax inside a zip, extracted into ``into``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith((".nda", ".ndax"))]
            if len(names) != 1:
                raise ReadError(path, f"expected one .nda/.ndax inside the zip, found {names}")
            target = into / Path(names[0]).name
            with archive.open(names[0]) as src, open(target, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ReadError(path, f"not a readable zip ({type(exc).__name__}: {exc})") from None
    return target
