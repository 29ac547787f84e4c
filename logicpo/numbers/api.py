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

A loss over more atoms takes its log-probs by name (``module.atoms`` lists them):

>>> from logicpo.logic.structure import Structure
>>> cpo3 = Structure.from_masks("CPO3", ("M(yw)", "M(yl)", "M(yl2)"), 0b10101010, 0b11111100)
>>> m = instantiate(compile_objective("cpo3", Objective("cpo3", (Term(1.0, "logistic", cpo3),)),
...                                   {}, paper=True))
>>> m.atoms
('M(yw)', 'M(yl)', 'M(yl2)')
>>> x = lambda v: torch.tensor([v])
>>> round(m(logps={"M(yw)": x(-1.2), "M(yl)": x(-2.3), "M(yl2)": x(-2.3)}).losses.item(), 6)
0.490032
"""

from __future__ import annotations

import dataclasses
import hashlib
import linecache
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from logicpo.errors import LogicpoError, NameResolutionError, UsageError, did_you_mean
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
        return self.generated.uses_reference

    @property
    def needs_lengths(self) -> bool:
        return any(t.normalize == "length" for t in self.terms)

    @property
    def classic(self) -> bool:
        """Reads only the classic four atoms: the positional TRL call works."""
        return self.generated.classic

    @property
    def atoms(self) -> tuple[str, ...]:
        """The atoms whose log-probs the loss reads (the keys of ``logps=``)."""
        return self.generated.atoms

    @property
    def responses(self) -> tuple[str, ...]:
        return self.generated.responses

    @property
    def factorised(self) -> bool:
        """Every log weighted model count has a factorised form (no sum over all worlds)."""
        return self.generated.factorised

    @property
    def source(self) -> str:
        """The objective in DSL text, every parameter resolved."""
        return self.generated.dsl


class TorchCompileError(LogicpoError):
    """``compile=True`` was asked for but ``torch.compile`` is missing or failed on this loss;
    logicpo does not fall back to the eager module on its own."""


def loss(spec: str, *, compile: bool = False, **params) -> runtime.CompiledLoss:  # noqa: A002
    """The loss ``spec`` as an ``nn.Module`` returning ``LossOutput(losses, chosen_rewards,
    rejected_rewards)``. With ``compile=True`` the module goes through ``torch.compile``
    (see :func:`torch_compile`).

    >>> import logicpo
    >>> m = logicpo.loss("simpo", beta=2.0)
    >>> m.uses_reference, m.needs_lengths, m.params["gamma"]
    (False, True, 0.5)
    """
    module = instantiate(compile_spec(spec, params))
    return torch_compile(module) if compile else module


def torch_compile(module: runtime.CompiledLoss):
    """``module`` through ``torch.compile`` (one graph, any batch size), compiled now.

    The first call compiles, so it is made here on a two-example batch, forward and
    backward: a missing ``torch.compile``, a missing C++ compiler (CPU) or a graph that does
    not compile raise :class:`TorchCompileError` here, not at the first training step, and
    never turn into the eager module without a word. The result has the module's attributes
    (``spec``, ``uses_reference``, ...); other dtypes or devices compile on first use.

    >>> torch_compile(object())
    Traceback (most recent call last):
    ...
    logicpo.numbers.api.TorchCompileError: torch.compile needs a logicpo loss module, not object
    """
    import torch

    if not isinstance(module, runtime.CompiledLoss):
        raise TorchCompileError("torch.compile needs a logicpo loss module, "
                                f"not {type(module).__name__}")
    who = f"loss '{module.spec}'"
    if not callable(getattr(torch, "compile", None)):
        raise TorchCompileError(f"compile=True: torch {torch.__version__} has no torch.compile "
                                f"(it needs torch 2.0 or later) for {who}",
                                hint="drop compile=True to run the eager module")
    try:
        compiled = torch.compile(module, fullgraph=True, dynamic=True)
        if module.classic:
            xs = [torch.full((2,), v, requires_grad=True) for v in (-1.0, -2.0, -1.5, -1.25)]
            lengths = [torch.full((2,), 3.0), torch.full((2,), 5.0)]
            out = compiled(*xs, *lengths)
        else:
            out = compiled(logps={a: torch.full((2,), -1.0 - 0.25 * i, requires_grad=True)
                                  for i, a in enumerate(module.atoms)},
                           lengths={r: torch.full((2,), 3.0 + i)
                                    for i, r in enumerate(module.responses)})
        out.losses.sum().backward()
    except Exception as exc:  # noqa: BLE001 - whatever torch raises, say so and stop
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise TorchCompileError(
            f"compile=True: torch.compile failed on {who}: {type(exc).__name__}: {first}",
            hint="drop compile=True to run the eager module (on CPU, torch.compile "
                 "needs a working C++ compiler)") from exc
    return compiled


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
    # a module of its own, registered, so that tools which import a class's module by name
    # (torch.compile's dynamo) find the generated class and the runtime next to it
    name = f"logicpo.numbers.generated_{class_name}_{digest}"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name, f"Generated loss class {class_name}.")
        namespace = module.__dict__
        namespace.update({k: v for k, v in vars(runtime).items() if not k.startswith("__")})
        exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own generated code
        sys.modules[name] = module
    namespace = module.__dict__
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
