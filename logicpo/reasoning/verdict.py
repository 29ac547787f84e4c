"""Three-valued answers: proved, refuted (with a countermodel world), or unknown (with why).

A verdict is deliberately not truthy: ``if verdict:`` raises, so an unknown can never
be mistaken for a yes or a no.

>>> v = Verdict.proved()
>>> v.status.value
'proved'
>>> bool(v)
Traceback (most recent call last):
...
TypeError: a Verdict is three-valued: test .is_proved, .is_refuted or .is_unknown
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from logicpo.logic.truth import World

DEFAULT_TIMEOUT_MS = 5_000  # every z3 query has a time limit; this one unless told otherwise


class Status(enum.Enum):
    PROVED = "proved"
    REFUTED = "refuted"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    status: Status
    countermodel: World | None = None
    reason: str | None = None

    @classmethod
    def proved(cls) -> Verdict:
        return cls(Status.PROVED)

    @classmethod
    def refuted(cls, world: World) -> Verdict:
        return cls(Status.REFUTED, countermodel=world)

    @classmethod
    def unknown(cls, reason: str) -> Verdict:
        return cls(Status.UNKNOWN, reason=reason)

    @property
    def is_proved(self) -> bool:
        return self.status is Status.PROVED

    @property
    def is_refuted(self) -> bool:
        return self.status is Status.REFUTED

    @property
    def is_unknown(self) -> bool:
        return self.status is Status.UNKNOWN

    def __bool__(self) -> bool:
        raise TypeError("a Verdict is three-valued: test .is_proved, .is_refuted or .is_unknown")

    def to_json(self) -> dict:
        out: dict = {"status": self.status.value}
        if self.countermodel is not None:
            out["countermodel"] = {"world": self.countermodel.bits,
                                   "atoms": list(self.countermodel.atoms)}
        if self.reason:
            out["reason"] = self.reason
        return out
