"""``export --format ro-crate``: an imported run as an RO-Crate, opened and checked with the
rocrate library.

rocrate (ro-crate-py) has no validator of its own: the check here is what it offers —
``ROCrate(dir)`` parses ro-crate-metadata.json against the RO-Crate rules it enforces (a
metadata descriptor, a root Dataset it can find, every data entity resolvable) — plus the
RO-Crate 1.1 requirements it leaves to us: the root's name, description, datePublished;
every listed file present with the sha256 and size recorded; the run as a CreateAction
naming its instrument, cell, source file and results.

The same kind of crate (an imported Maccor run) also passes the RO-Crate community's
validator, roc-validator 0.13.0 (profile ro-crate-1.3 and ro-crate-1.1, severity
"recommended", ``--offline``): every requirement it could check passed; its two checks that
fetch the JSON-LD context from w3id.org need the network and were skipped. It is not a test
dependency: it pins rich < 14, which textual cannot run with.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cyclerctl.export import export_run
from cyclerctl.readers.into_store import import_file
from cyclerctl.store import Store
from tests.readers.conftest import shared

rocrate = pytest.importorskip("rocrate.rocrate")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'crate.db'}")


def test_an_imported_run_as_a_valid_crate(store: Store, tmp_path: Path) -> None:
    outcome = import_file(store, shared("maccor") / "xTESLADIAG_000019_CH70.070", operator="ana")
    (run_id,) = outcome.run_ids
    out = export_run(store, run_id, "ro-crate", tmp_path / "crate")

    crate = rocrate.ROCrate(out)  # parses and resolves: raises on a malformed crate
    root = crate.root_dataset
    for key in ("name", "description", "datePublished"):
        assert root[key], key
    graph = json.loads((out / "ro-crate-metadata.json").read_text())["@graph"]
    (descriptor,) = [e for e in graph if e["@id"] == "ro-crate-metadata.json"]
    assert descriptor["conformsTo"]["@id"].startswith("https://w3id.org/ro/crate/1.")
    assert descriptor["about"]["@id"] == "./"
    names = {e.id for e in crate.data_entities}
    assert {"samples.csv", "samples.parquet", "run.json", "steps.csv", "protocol.txt",
            "cell.json", "results.json", "cycles.csv", "cycles.parquet"} <= names  # fmt: skip
    cycles = pq.read_table(out / "cycles.parquet")
    stored = set(store.samples(run_id)["cycle"].tolist())
    assert cycles.num_rows >= 1 and set(cycles.column("cycle").to_pylist()) <= stored
    for entity in crate.data_entities:
        path = out / entity.id
        assert path.is_file()
        assert entity["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert int(entity["contentSize"]) == path.stat().st_size

    run = crate.dereference("#run")
    assert run.type == "CreateAction"
    assert run["instrument"].type == "IndividualProduct"
    objects = {o.id: o for o in run["object"]}
    source = objects["#source-file"]
    assert (
        source["sha256"]
        == hashlib.sha256(
            (shared("maccor") / "xTESLADIAG_000019_CH70.070").read_bytes()
        ).hexdigest()
    )
    assert {r.id for r in run["result"]} == names
    assert run["agent"]["name"] == "ana"

    table = pq.read_table(out / "samples.parquet")
    assert table.num_rows == outcome.records == len(store.samples(run_id))
    assert "Voltage / V" in table.column_names
    results = json.loads((out / "results.json").read_text())
    kept = store.results(run_id)
    assert kept and set(results) == set(kept)
    assert all(results[k]["value"] == pytest.approx(r.value) for k, r in kept.items())


def test_a_crate_goes_into_an_empty_directory(store: Store, tmp_path: Path) -> None:
    outcome = import_file(store, shared("maccor") / "xTESLADIAG_000019_CH70.070")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        export_run(store, outcome.run_ids[0], "ro-crate", busy)
    assert sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
