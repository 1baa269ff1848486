"""What a channel allows, for refusing a protocol before it is queued or started.

The config's hard per-instrument limits (``[instruments.limits]``), narrowed — for the
simulator, whose range is known without a connection — by the driver's own current and
voltage range. Other drivers tell their range only when connected; for them the engine's
``misfits`` check and the run-time safety limits cover the rest.
"""

from __future__ import annotations

from cyclerctl.config import Config, InstrumentConfig
from cyclerctl.plan import Plan
from cyclerctl.protocol.harm import ChannelLimits


class UnknownChannel(ValueError):
    """The channel is not in the config; the message names the config and its channels."""


def channel_limits(config: Config, channel: str, plan: Plan) -> ChannelLimits:
    """The limits of ``channel`` (``<instrument>:<n>``) in ``config``, for ``plan``'s cell."""
    found = config.find_channel(channel)
    if found is None:
        known = ", ".join(config.channel_names) or "(none)"
        raise UnknownChannel(
            f"--channel: {channel!r} is not a channel of {config.path}; the channels are: {known}"
        )
    instrument, number = found
    return instrument_limits(instrument, number, plan, source=f"{config.path}: ")


def instrument_limits(
    instrument: InstrumentConfig, number: int, plan: Plan, *, source: str = ""
) -> ChannelLimits:
    """Channel ``number`` of ``instrument``: its hard limits and (sim) its driver's range."""
    limits = {s.quantity: s.value for s in instrument.limits}
    current_max, low, high = (limits.get(q) for q in ("current_max", "voltage_min", "voltage_max"))
    source += f"instrument {instrument.name!r} limits"
    name = f"{instrument.name}:{number}"
    if instrument.driver == "sim":
        from cyclerctl.instruments import open_simulator
        from cyclerctl.protocol import load_cell

        configured = instrument.cell_for(number)  # the cell simulated there, if the config says
        try:
            setup = open_simulator([plan.cell if configured is None else load_cell(configured)])
        except ValueError as exc:  # e.g. a [sim] model the simulator does not know
            raise ValueError(f"--channel: {name}: {exc}") from None
        try:
            capabilities = setup.instrument.channels[0].capabilities
        finally:
            setup.close()
        driver_low, driver_high = capabilities.voltage_range_V
        current_max = min(x for x in (current_max, capabilities.current_max_A) if x is not None)
        low = driver_low if low is None else max(low, driver_low)
        high = driver_high if high is None else min(high, driver_high)
        source += " and the sim driver's range"
    return ChannelLimits(name, current_max, low, high, source)
