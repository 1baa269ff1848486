"""The protocol file as written: pydantic models of its tables, values still strings.

These models check the shape of a file (which fields exist, which step types, strings
vs numbers); units, parameter references and the cell are resolved by ``compiler``.
``extra="forbid"`` makes a misspelt field an error, and steps are a union
discriminated on ``type`` so an unknown type is reported with the list of known ones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

_REF = "or a parameter reference '{name}' / '-{name}'"
Voltage = Annotated[str, Field(description=f"a voltage such as '4.2 V', {_REF}")]
Current = Annotated[
    str,
    Field(
        description="a current ('-1 mA'), current density ('0.5 mA/cm^2') or C-rate ('C/10', "
        f"'2C'), {_REF}"
    ),
]
Duration = Annotated[str, Field(description=f"a duration such as '10 min', {_REF}")]
Charge = Annotated[
    str, Field(description=f"a charge ('0.2 mAh') or areal charge ('1 mAh/cm^2'), {_REF}")
]
Quantity = Annotated[str, Field(description=f"a number with its unit, {_REF}")]
Count = Annotated[
    StrictInt | str, Field(description="a whole number, or '{name}' of a count parameter")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parameter(Strict):
    default: StrictInt | str | list[str] = Field(
        description="a count (whole number), a quantity string ('4.3 V', 'C/10') or a list of them"
    )
    description: str = ""
    min: StrictInt | StrictFloat | str | None = None
    max: StrictInt | StrictFloat | str | None = None


class Record(Strict):
    """Store a point when any of these has changed since the last stored point."""

    every: Duration | None = None
    voltage_change: Voltage | None = None
    current_change: Current | None = None


class HeldLimit(Strict):
    """A limit that trips only when exceeded for longer than ``for``."""

    value: Quantity
    hold: Duration = Field(alias="for")


SafetyValue = Quantity | HeldLimit


class Safety(Strict):
    voltage_min: SafetyValue | None = None
    voltage_max: SafetyValue | None = None
    current_max: SafetyValue | None = None
    temperature_max: SafetyValue | None = None


class WindowedValue(Strict):
    value: Quantity
    window: Duration | None = None


class ShortDetection(Strict):
    fraction: StrictFloat | StrictInt = 0.2
    window: Duration = "1 s"


class Until(Strict):
    """End conditions: the step ends as soon as any one is met."""

    voltage_above: Voltage | None = None
    voltage_below: Voltage | None = None
    current_below: Current | None = Field(None, description="on |I|")
    time: Duration | None = None
    charge: Charge | None = Field(None, description="on |Q| moved in the step")
    dvdt_below: Quantity | WindowedValue | None = Field(
        None, description="|dV/dt| in V/s ('1 mV/h'), optionally { value, window = '60 s' }"
    )
    short: StrictBool | ShortDetection | None = Field(
        None, description="true: a sudden collapse of |V| below 0.2 × its settled value in 1 s"
    )


class StepFields(Strict):
    name: str | None = Field(None, description="defaults to the step type")
    until: Until | None = None
    record: Record | None = Field(None, description="overrides [record] for this step")
    resumable: StrictBool = Field(True, description="false: a crash in this step ends the run")


class RestStep(StepFields):
    type: Literal["rest", "ocv"]


class CcStep(StepFields):
    type: Literal["cc"]
    current: Current
    direction: Literal["charge", "discharge"] | None = Field(
        None, description="gives the current this sign: charge +, discharge -"
    )


class CvStep(StepFields):
    type: Literal["cv"]
    voltage: Voltage


class CccvStep(StepFields):
    type: Literal["cccv"]
    current: Current
    direction: Literal["charge", "discharge"] | None = None
    voltage: Voltage


class EisStep(StepFields):
    type: Literal["eis"]
    mode: Literal["potentiostatic", "galvanostatic"] = "potentiostatic"
    f_start: Quantity = Field(description="a frequency ('100 kHz')")
    f_stop: Quantity = Field(description="a frequency ('100 mHz')")
    amplitude: Quantity = Field(description="V (potentiostatic) or A (galvanostatic), peak")
    points_per_decade: Count = 10
    averages: Count = 1
    bias: Quantity = Field("ocv", description="'ocv' or a voltage")


class SweepStep(StepFields):
    type: Literal["sweep"]
    scan_rate: Quantity = Field(description="V/s ('1 mV/s')")
    to: Voltage | list[Voltage] = Field(description="the vertex voltage, or several")
    start: Quantity = Field("ocv", alias="from", description="'ocv' or a voltage")
    cycles: Count = 1


class LoopVariable(Strict):
    """A ramp: the variable takes start, start + step, … up to stop (inclusive); or a list:
    the variable takes each of ``values`` in turn (e.g. temperatures, C-rates)."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    start: Quantity | None = None
    step: Quantity | None = None
    stop: Quantity | None = None
    values: list[Quantity] | Quantity | None = Field(
        None, description="a list of quantities, or '{name}' of a list parameter"
    )


class ChamberStep(StepFields):
    """Set the temperature chamber and wait until it holds the set point."""

    type: Literal["chamber"]
    temperature: Quantity = Field(description="the set point ('60 degC', '333.15 K')")
    tolerance: Quantity = Field("0.5 K", description="a temperature difference in K")
    soak: Duration = Field("30 min", description="stable this long within tolerance")
    timeout: Duration = Field("4 h", description="not stable by then: the run stops")


class LoopStep(Strict):
    type: Literal["loop"]
    name: str | None = None
    count: Count | None = Field(None, description="how many times; derived from a variable")
    variable: LoopVariable | None = None
    cycles: StrictBool | None = Field(
        None, description="each iteration is one cycle (default: when the body has no loop)"
    )
    steps: list[AnyStep] = Field(min_length=1)


AnyStep = Annotated[
    RestStep | CcStep | CvStep | CccvStep | EisStep | SweepStep | ChamberStep | LoopStep,
    Field(discriminator="type"),
]
LoopStep.model_rebuild()

#: The step types a protocol may use, for messages.
STEP_TYPES = ("rest", "ocv", "cc", "cv", "cccv", "eis", "sweep", "chamber", "loop")


class ProtocolFile(Strict):
    """A protocol file (TOML)."""

    model_config = ConfigDict(title="cyclerctl protocol")

    name: str
    description: str = ""
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    record: Record = Field(default_factory=Record)
    safety: Safety = Field(default_factory=Safety)
    analysis: dict[str, Any] = Field(default_factory=dict)
    steps: list[AnyStep] = Field(min_length=1)
