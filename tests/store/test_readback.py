"""Reading one run back into numpy: whole, in order, NaN kept, neighbours left out."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cyclerctl.store import IMPEDANCE_ROW_DTYPE, RunInfo, Store

from .conftest import sample_block


def _assert_same(stored: np.ndarray, expected: np.ndarray) -> None:
    assert stored.dtype == expected.dtype
    for name in expected.dtype.names or ():
        np.testing.assert_array_equal(stored[name], expected[name])  # NaN T comes back NaN


def test_run_reads_back_whole_and_in_order(store: Store, new_run: Callable[..., RunInfo]) -> None:
    run, neighbour = new_run(channel="ch1"), new_run(channel="ch2")
    block = sample_block(1, 5_001, seed=3)
    gap = sample_block(10_001, 50, seed=6)  # points not recorded in between: a gap in seq
    with (
        store.open_writer(run.id, channel="ch1") as writer,
        store.open_writer(neighbour.id, channel="ch2") as other,
    ):
        other.append_samples(sample_block(1, 2_000, seed=4))  # rows of another run around it
        for start in reversed(range(0, len(block), 700)):  # handed over out of order
            writer.append_samples(block[start : start + 700])
        writer.append_samples(block[:1])  # and one replayed
        writer.append_samples(gap)
    _assert_same(store.samples(run.id), np.concatenate([block, gap]))
    assert len(store.samples(neighbour.id)) == 2_000
    empty = store.samples(run.id + 99)
    assert empty.shape == (0,) and empty.dtype == block.dtype


def test_impedance_reads_back_with_unknown_values_as_nan(
    store: Store, new_run: Callable[..., RunInfo]
) -> None:
    run = new_run()
    points = np.zeros(30, dtype=IMPEDANCE_ROW_DTYPE)
    points["seq"] = np.arange(1, 31)
    points["f"] = np.logspace(5, -1, 30)
    points["Zre"] = np.linspace(1.0, 2.0, 30)
    points["Zim"] = -np.linspace(0.0, 1.0, 30)
    points["V_dc"] = np.where(np.arange(30) % 4 == 0, np.nan, 3.7)
    points["T"] = np.nan
    points["t"] = np.arange(30.0)
    with store.open_writer(run.id, channel="ch1") as writer:
        writer.append_impedance(points)
    _assert_same(store.impedance(run.id), points)
