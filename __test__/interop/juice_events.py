"""Event types shared by the interop peers; the TypeScript tests declare the same names."""

import enum

from orangeqs.juice.messaging import MessagePart
from orangeqs.juice.messaging.protocol import Event


class Telemetry(Event):
    path: str
    value: float | None = None

    def topic(self) -> str:
        return self.path


class FridgeTelemetry(Telemetry):
    """A subclass: a Telemetry subscription must not receive it."""


class Position(MessagePart):
    x: int
    y: float


class Mode(enum.Enum):
    IDLE = "idle"
    BUSY = "busy"


class Rich(Event):
    pos: Position
    positions: list[Position]
    ints: list[int]
    f: float
    n: int
    flag: bool
    none: int | None
    text: str
    mode: Mode
    blob: str = ""

    def topic(self) -> str:
        return "rich"


class PyOnly(Event):
    """A type the TypeScript side has no class for."""

    x: int


class Probe(Event):
    """Sent repeatedly until the other side has seen one, so a test starts once the path is up."""


TYPES = {t.__name__: t for t in (Telemetry, FridgeTelemetry, Rich, PyOnly, Probe)}
