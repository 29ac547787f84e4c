"""What a loss reads, so that the trainer scores exactly that: its (model, response) pairs.

A *classic* loss reads only the four classic atoms ``M(yw), M(yl), Ref(yw), Ref(yl)``
and is called positionally with TRL's four log-probs, as it always was. A loss over other
atoms (issue 13) names them in ``loss_fn.atoms`` (``"M(yg)"``, ``"Ref(ys)"``, ...) and is
called as ``loss_fn(logps={atom: (B,)}, lengths={response: (B,)})``: the trainer scores
each response of its ``M`` atoms with the policy and each response of its ``Ref`` atoms
with the frozen reference, and no other. The trainer has no third model: a loss whose atoms
name another one (``Src(yw)``, a second reference) is refused before training.

>>> from types import SimpleNamespace
>>> s = scoring_of(SimpleNamespace(atoms=("M(yw)", "M(yl)", "M(yg)", "Ref(yg)")), "TPO")
>>> s.classic, s.policy, s.reference, s.responses
(False, ('yw', 'yl', 'yg'), ('yg',), ('yw', 'yl', 'yg'))
>>> s.readers()["yg"]
'M(yg), Ref(yg)'
>>> scoring_of(SimpleNamespace(atoms=("M(yw)", "Src(yw)")), "mine")
Traceback (most recent call last):
...
logicpo.training.scoring.UnsupportedLossError: the loss 'mine' reads Src(yw), ...
"""

from __future__ import annotations

from dataclasses import dataclass

from logicpo.errors import LogicpoError, UntrainableError
from logicpo.logic import atoms

#: The models the trainer has: the policy it trains and the reference it froze.
POLICY, REFERENCE = atoms.CLASSIC_MODELS


class UnsupportedLossError(LogicpoError):
    """The loss is well defined, but reads log-probs this trainer cannot compute yet."""


@dataclass(frozen=True)
class Scoring:
    """The responses the policy and the reference score for a loss, in atom order."""

    atoms: tuple[str, ...]
    classic: bool                  # the positional TRL call, as every loss before issue 13
    policy: tuple[str, ...]        # responses scored by the policy (its M atoms)
    reference: tuple[str, ...]     # responses scored by the reference (its Ref atoms)

    @property
    def responses(self) -> tuple[str, ...]:
        return atoms.responses_of(self.atoms)

    @property
    def uses_reference(self) -> bool:
        return bool(self.reference)

    def readers(self) -> dict[str, str]:
        """Each response and the atoms that read it, for messages: ``{"yg": "M(yg)"}``."""
        return {r: ", ".join(a for a in self.atoms if atoms.response_of(a) == r)
                for r in self.responses}


def scoring_of(loss_fn, spec: str) -> Scoring:
    """What the trainer must score for ``loss_fn`` (``spec``: its name, for messages).

    A loss without ``atoms`` (a compiled loss of an older logicpo) is classic. Raises
    :class:`UnsupportedLossError` for atoms of a model other than ``M`` and ``Ref``.
    """
    read = getattr(loss_fn, "atoms", None)
    if read is None or atoms.is_classic(read):
        uses_reference = bool(getattr(loss_fn, "uses_reference", False))
        read = atoms.ATOMS_REF if uses_reference else atoms.ATOMS_SINGLE
        # today's path: the policy scores both responses, the reference both or none
        return Scoring(tuple(read), True, ("yw", "yl"), ("yw", "yl") if uses_reference else ())
    read = tuple(sorted(set(read), key=atoms.atom_key))  # exactly these, not completed
    foreign = [a for a in read if atoms.model_of(a) not in (POLICY, REFERENCE)]
    if foreign:
        models = atoms.models_of(foreign)
        raise UnsupportedLossError(
            f"the loss {spec!r} reads {', '.join(foreign)}, log-probs of "
            f"{'a model' if len(models) == 1 else 'models'} other than the policy "
            f"({POLICY}) and its frozen reference ({REFERENCE}): training with "
            f"{', '.join(models)} is not supported yet",
            hint="train a loss over M and Ref atoms, or compute these log-probs in your own "
                 "loop and call the loss with logps={atom: tensor} (see docs/training.md)")
    policy = tuple(atoms.response_of(a) for a in read if atoms.model_of(a) == POLICY)
    reference = tuple(atoms.response_of(a) for a in read if atoms.model_of(a) == REFERENCE)
    if not policy:
        raise UntrainableError(f"the loss {spec!r} reads no log-prob of the policy ({POLICY}): "
                               "nothing in it gives the policy a gradient")
    return Scoring(read, False, policy, reference)
