"""Plots of one run: V(t) and I(t), or a Nyquist plot for EIS. Data goes in by method."""

from __future__ import annotations

from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from cyclerctl.tui.data import Trace


def _time_axis(t: list[float]) -> tuple[list[float], str]:
    span = (t[-1] - t[0]) if t else 0.0
    if span > 2 * 86400:
        return [x / 86400 for x in t], "t (d)"
    if span > 2 * 3600:
        return [x / 3600 for x in t], "t (h)"
    return list(t), "t (s)"


class CachedPlot(PlotextPlot):
    """A plotext plot drawn again only when its data, size or theme changed.

    PlotextPlot.render builds the whole figure and parses its ANSI text on every render,
    and a screen renders its widgets again on any layout change (a tab, a screen coming
    back on top): 50-100 ms of the UI thread per detail screen shown on a loaded 2-core
    PC (py-spy/pyinstrument: PlotextPlot.render → plotext build, Text.from_ansi), during
    which a key waited. The figure is kept with what it was drawn from.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._data_key: object = None  # what the figure shows now
        self._drawn: tuple[object, RenderResult] | None = None

    def changed(self, data_key: object) -> bool:
        """True (and remembered) when ``data_key`` differs from what is shown."""
        if data_key == self._data_key:
            return False
        self._data_key = data_key
        self._drawn = None
        return True

    def render(self) -> RenderResult:
        key = (self.size, self.app.theme, self.theme)
        if self._drawn is None or self._drawn[0] != key:
            self._drawn = (key, super().render())
        return self._drawn[1]


def _data_key(*columns: list[float]) -> tuple[Any, ...]:
    return tuple((len(c), tuple(c[:1]), tuple(c[-1:]), hash(tuple(c))) for c in columns)


class TracePlot(CachedPlot):
    """One quantity against run time; ``quantity`` is "V" or "I" (shown in mA)."""

    def __init__(self, quantity: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.quantity = quantity

    def show_trace(self, trace: Trace) -> None:
        values = trace.V if self.quantity == "V" else trace.I
        if not self.changed(_data_key(trace.t, values)):
            return  # the same points: the figure on screen is right
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        x, label = _time_axis(trace.t)
        if self.quantity == "V":
            y, title = trace.V, "V (V)"
        else:
            y, title = [i * 1e3 for i in trace.I], "I (mA)"
        if x:
            plt.plot(x, y, marker="braille")
        plt.title(title)
        plt.xlabel(label)
        self.refresh()


class NyquistPlot(CachedPlot):
    def show_points(self, z_re: list[float], minus_z_im: list[float]) -> None:
        if not self.changed(_data_key(z_re, minus_z_im)):
            return
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if z_re:
            plt.scatter(z_re, minus_z_im, marker="dot")
        plt.title("Nyquist: -Z'' vs Z' (ohm)")
        self.refresh()
