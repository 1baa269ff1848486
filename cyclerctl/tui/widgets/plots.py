"""Plots of one run: V(t) and I(t), or a Nyquist plot for EIS. Data goes in by method."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from cyclerctl.tui.data import Trace


def _time_axis(t: list[float]) -> tuple[list[float], str]:
    span = (t[-1] - t[0]) if t else 0.0
    if span > 2 * 86400:
        return [x / 86400 for x in t], "t (d)"
    if span > 2 * 3600:
        return [x / 3600 for x in t], "t (h)"
    return list(t), "t (s)"


class TracePlot(PlotextPlot):
    """One quantity against run time; ``quantity`` is "V" or "I" (shown in mA)."""

    def __init__(self, quantity: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.quantity = quantity

    def show_trace(self, trace: Trace) -> None:
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


class NyquistPlot(PlotextPlot):
    def show_points(self, z_re: list[float], minus_z_im: list[float]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if z_re:
            plt.scatter(z_re, minus_z_im, marker="dot")
        plt.title("Nyquist: -Z'' vs Z' (ohm)")
        self.refresh()
