"""``logicpo.loss(spec, **params)``: any objective or structure as a PyTorch loss module.

``spec`` is a zoo name (``"sigmoid"``, ``"simpo"``, ``"DPO"``), ``"path/to/file.lpo:name"``,
or an inline objective such as ``"0.8*sigmoid + 0.2*bco_pair + 1.0*sft"`` or
``"hinge(CPO)"``. Parameters: ``beta``, ``gamma``, ``label_smoothing``, ``tau``,
``normalize`` (``"length"``, ``"none"`` or None) and ``f``, the outer function for
a bare structure name. How they meet the values in the DSL: :mod:`logicpo.numbers.params`.

>>> import torch, logicpo
>>> dpo = logicpo.loss("sigmoid", beta=0.1)
>>> out = dpo(torch.tensor([-1.2]), torch.tensor([-2.3]), torch.tensor([-1.5]), torch.tensor([-1.9]))
>>> round(out.losses.item(), 6), round(out.chosen_rewards.item(), 3)
(0.65876, 0.03)
>>> logicpo.loss("CPO", f="hinge", beta=0.1).source
'hinge(CPO, beta=0.1)'
"""

from __future__ import annotations

import dataclasses
import hashlib
import linecache
import re
from dataclasses import dataclass
from pathlib import Path

from logicpo.errors import NameResolutionError, UsageError, did_you_mean
from logicpo.logic.objective import FAMILIES, Objective, Term
from logicpo.numbers import module as runtime
from logicpo.numbers.codegen import Generated, generate
from logicpo.numbers.params import ResolvedTerm, resolve
from logicpo.program import Program, load, zoo

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Compiled:
    """Everything the pipeline knows about one spec: the objective, its terms, the code."""

    spec: str
    objective: Objective
    terms: tuple[ResolvedTerm, ...]
    params: dict
    generated: Generated
    #: warnings of the program the spec was resolved in (a user name shadowing the zoo's)
    diagnostics: tuple = ()

    @property
    def uses_reference(self) -> bool:
        return any(t.structure.uses_reference for t in self.terms)

    @property
    def needs_lengths(self) -> bool:
        return any(t.normalize == "length" for t in self.terms)

    @property
    def source(self) -> str:
        """The objective in DSL text, every parameter resolved."""
        return self.generated.dsl


def loss(spec: str, **params) -> runtime.CompiledLoss:
    """The loss ``spec`` as an ``nn.Module`` returning ``LossOutput(losses, chosen_rewards,
    rejected_rewards)``.

    >>> import logicpo
    >>> m = logicpo.loss("simpo", beta=2.0)
    >>> m.uses_reference, m.needs_lengths, m.params["gamma"]
    (False, True, 0.5)
    """
    return instantiate(compile_spec(spec, params))


def compile_spec(spec: str, params: dict, files=(), *, program: Program | None = None
                 ) -> Compiled:
    """Resolve ``spec`` (plus ``.lpo`` ``files``) and generate its code. With ``program``,
    names are looked up there instead, and the file of a ``FILE.lpo:NAME`` spec is not read
    (a resumed training run compiles the definitions its checkpoint holds)."""
    program, name = _program_for(spec, files, program)
    family = params.get("f")
    kind = program.kind(name) if _NAME.fullmatch(name) else None
    if _NAME.fullmatch(name) and kind not in ("objective", "structure"):
        raise _unknown(name, program)
    if family is not None:
        if kind != "structure":
            raise UsageError(
                f"f={family!r} chooses the outer function of a bare structure name, "
                f"but '{name}' is {'an objective' if kind else 'an objective expression'}; "
                f"write it inside the expression, e.g. {family}(CPO)")
        if family not in FAMILIES:
            raise NameResolutionError(
                f"unknown loss family f={family!r} (valid: {', '.join(FAMILIES)})",
                hint=did_you_mean(str(family), FAMILIES))
        s = program.structure(name)
        objective = Objective(name, (Term(1.0, family, s),), s.doc, s.span)
    elif kind is not None:
        objective = program.objective(name)
    else:
        objective = program.inline_objective(name)
    compiled = compile_objective(spec, objective, params, paper=kind == "structure")
    return dataclasses.replace(compiled, diagnostics=tuple(program.diagnostics))


def compile_objective(spec: str, objective: Objective, params: dict, *,
                      paper: bool = False) -> Compiled:
    """Generate the code of an :class:`Objective` built in Python (``paper``: open beta = 1).

    >>> from logicpo.logic.structure import Structure
    >>> s = Structure.from_masks("mine", ("M(yw)", "M(yl)"), 0b0010, 0b1100)
    >>> m = instantiate(compile_objective("mine", Objective("mine", (Term(1.0, "logistic", s),)),
    ...                                   {}, paper=True))
    >>> m.source
    'logistic(mine, beta=1)'
    """
    terms, resolved = resolve(objective, params, paper=paper)
    if params.get("f") is not None:
        resolved["f"] = params["f"]
    source = Objective(spec, tuple(t.as_term() for t in terms)).text()
    generated = generate(spec, objective.doc or "", terms, resolved, source)
    return Compiled(spec, objective, tuple(terms), resolved, generated)


def instantiate(compiled: Compiled) -> runtime.CompiledLoss:
    """Execute the generated class next to the runtime and return an instance."""
    return _from_code(compiled.generated.code, compiled.generated.class_name)


def _from_code(text: str, class_name: str) -> runtime.CompiledLoss:
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    filename = f"<logicpo loss {class_name} {digest}>"
    # keep the text so tracebacks and inspect.getsource(cls.compute) show the generated code
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace = dict(vars(runtime))
    namespace["__name__"] = "logicpo.numbers.generated"
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    cls = namespace[class_name]
    # the class exists only in memory: pickle (torch.save, deepcopy) rebuilds it from its code
    cls.__reduce__ = lambda self: (_from_code, (text, class_name))
    return cls()


def _program_for(spec: str, files, program: Program | None = None) -> tuple[Program, str]:
    spec = spec.strip()
    path, sep, short = spec.rpartition(":")
    if sep and path.endswith(".lpo"):
        return program or load([*files, Path(path)]), short.strip()
    if program is not None:
        return program, spec
    return (load(list(files)) if files else zoo()), spec


def _unknown(name: str, program: Program) -> NameResolutionError:
    objectives = program.names_of("objective")
    structures = program.names_of("structure")
    return NameResolutionError(
        f"unknown loss '{name}' (objectives: {', '.join(objectives)}; "
        f"structures: {', '.join(structures)})",
        hint=did_you_mean(name, objectives + structures))
