"""The code generator: resolved terms -> the Python source of a :class:`CompiledLoss` subclass.

Each term's semantic log-ratio comes from :mod:`logicpo.numbers.logwmc`, already
factorised into ``logp``, ``log1mexp`` and (rarely) ``logaddexp`` nodes; shared
nodes are computed once. The outer function is written out for the term's
parameters, which are literals in the code: ``beta = 1`` multiplies nothing, a
zero margin subtracts nothing. The log-ratios ``pc - rc`` and ``pr - rr`` are computed
once and returned with the loss for the rewards (TRL's ``beta * (pc - rc)``); when every
term reads them only through ``beta * rho`` with the rewards' beta, they are computed
times beta, once for both (``rewards_scaled``). A structure whose two regions split the worlds
(CE, CEUnl, unCPO, ...) under the paper's loss needs no log-ratio at all:
``-log sigmoid(rho) = -log WMC(ok)``.

**Any atoms** (issue 13). A loss over atoms other than the classic four (``M(yg)``,
``Ref(ys)``, ``M(yl2)``, ...) gets one argument per atom, named as
:func:`logicpo.logic.atoms.logp_name` names it (``M_yg``), and one token count per response
(``n_yg``); its class says ``classic = False`` and lists its ``atoms``, ``responses`` and
``lengths_required``, and the runtime takes them by name (``logps=``, ``lengths=``, see
:mod:`logicpo.numbers.module`). A log weighted model count without a factorised form (see
:mod:`logicpo.numbers.logwmc`) is one ``logsumexp`` over its worlds, said so in a comment,
in the docstring and in ``factorised = False``.

>>> from logicpo.program import zoo
>>> from logicpo.numbers.params import resolve
>>> terms, params = resolve(zoo().objective("sigmoid"), {}, paper=False)
>>> print(generate("sigmoid", "", terms, params, "logistic(DPO, beta=0.1)").compute)
    def compute(self, pc, pr, rc, rr, nc, nr):
        lr_c = 0.1 * (pc - rc)  # (B,) 0.1 * log-ratio, shared with the rewards
        lr_r = 0.1 * (pr - rr)  # (B,) 0.1 * log-ratio, shared with the rewards
        # logistic(DPO, beta=0.1): rho = pc - rc - pr + rr
        return F.softplus(lr_r - lr_c), lr_c, lr_r  # (B,) each: loss, what the rewards scale
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from logicpo.errors import DegenerateStructureError
from logicpo.logic.atoms import (
    ATOMS_REF,
    atom_key,
    is_classic,
    length_name,
    logp_name,
    model_of,
    response_of,
    responses_of,
)
from logicpo.logic.atoms import name as atom_name
from logicpo.logic.families import FAMILIES, Code
from logicpo.logic.structure import Structure
from logicpo.logic.truth import full_mask
from logicpo.numbers.logwmc import (
    ZERO,
    Log1mexp,
    LogAddExp,
    Region,
    Sum,
    Var,
    Worlds,
    enumerated,
    log_wmc,
    nodes_in_order,
    render,
)
from logicpo.numbers.params import ResolvedTerm

_MODES = ("none", "length", "auto")
_SUFFIXES = ("", "_n", "_a")


@dataclass(frozen=True)
class Variables:
    """The generated code's variables. Atom ``i`` of ``atoms`` in normalisation mode ``m``
    (none, length, auto) is number ``m * len(atoms) + i``, named :func:`logp_name` of the atom
    plus ``""``, ``"_n"`` (per token) or ``"_a"`` (per token when lengths are given); its
    token count is :func:`length_name` of its response. Classic losses are numbered over all
    four classic atoms, reference-free or not, as they always were.

    >>> Variables.of([("M(yw)", "M(yl)"), ("M(yg)",)]).names[:4]
    ('pc', 'pr', 'M_yg', 'pc_n')
    >>> Variables.of([("M(yw)", "M(yl)")]).atoms
    ('M(yw)', 'M(yl)', 'Ref(yw)', 'Ref(yl)')
    """

    atoms: tuple[str, ...]

    @classmethod
    def of(cls, atom_tuples: Iterable[tuple[str, ...]]) -> Variables:
        found = {a for atoms in atom_tuples for a in atoms}
        return cls(ATOMS_REF if is_classic(found) else tuple(sorted(found, key=atom_key)))

    @property
    def classic(self) -> bool:
        return is_classic(self.atoms)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(logp_name(a) + suffix for suffix in _SUFFIXES for a in self.atoms)

    @cached_property
    def responses(self) -> tuple[str, ...]:
        return responses_of(self.atoms)

    @cached_property
    def length_names(self) -> tuple[str, ...]:
        return tuple(length_name(r) for r in self.responses)

    def index(self, atom: str, mode: str = "none") -> int:
        return _MODES.index(mode) * len(self.atoms) + self.atoms.index(atom)

    def mode(self, i: int) -> str:
        return _MODES[i // len(self.atoms)]

    def base(self, i: int) -> str:
        """The argument the variable is computed from: ``pc`` for ``pc_n``."""
        return self.names[i % len(self.atoms)]

    def length(self, i: int) -> str:
        return length_name(response_of(self.atoms[i % len(self.atoms)]))


_CLASSIC = Variables(ATOMS_REF)
BASE_NAMES = _CLASSIC.names[:4]
#: the classic variable names, atom index 4*mode + i (``pc``, ..., ``pc_n``, ..., ``pc_a``)
NAMES = _CLASSIC.names


@dataclass(frozen=True)
class TermForm:
    """How one term is computed: its log-ratio and closed form, as code and as text."""

    term: ResolvedTerm
    rho: Sum | None          # None when the loss is -log WMC(ok) directly
    log_ok: Sum | None
    code: str                # expression of the term's per-example loss
    text: str                # the same, for people: "-log sigmoid(0.1 * rho)"
    #: the counts that have no factorised form, enumerated world by world (usually none)
    enumerated: tuple[Worlds, ...] = ()


@dataclass(frozen=True)
class Generated:
    """The generated class: its name, Python code, DSL source and per-term forms."""

    class_name: str
    code: str
    compute: str
    dsl: str
    forms: tuple[TermForm, ...]
    variables: Variables = _CLASSIC
    #: the atoms the loss reads (the keys of ``logps=``), the responses they judge, the
    #: responses whose token counts it requires, and whether it reads the reference
    atoms: tuple[str, ...] = ATOMS_REF
    responses: tuple[str, ...] = ("yw", "yl")
    lengths_required: tuple[str, ...] = ()
    uses_reference: bool = False

    @property
    def classic(self) -> bool:
        return self.variables.classic

    @property
    def factorised(self) -> bool:
        """Every count has a factorised form: ``O(k)`` work for ``k`` atoms, no sum over
        the ``2^k`` worlds (see :mod:`logicpo.numbers.logwmc`)."""
        return not any(f.enumerated for f in self.forms)


def class_name(spec: str) -> str:
    """``"sigmoid_norm"`` -> ``"SigmoidNormLoss"``; other specs get ``"ObjectiveLoss"``."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", spec):
        parts = [p for p in spec.split("_") if p]
        return "".join(p[0].upper() + p[1:] for p in parts) + "Loss"
    return "ObjectiveLoss"


def _check_degenerate(s: Structure) -> None:
    if s.degeneracy is not None:
        raise DegenerateStructureError(
            f"structure '{s.name}' is degenerate: {s.degeneracy.value}; "
            "there is no loss to compile")


def _shift(s: Sum, structure: Structure, mode: str, v: Variables) -> Sum:
    """Rename the structure's atoms to the global variable numbering for ``mode``."""
    index = [v.index(a, mode) for a in structure.atoms]

    def node(n):
        if isinstance(n, Var):
            return Var(index[n.atom])
        if isinstance(n, Log1mexp):
            return Log1mexp(sums(n.arg))
        if isinstance(n, Worlds):
            return Worlds(tuple(index[a] for a in n.vars), n.worlds)
        return LogAddExp(sums(n.a), sums(n.b))

    def sums(x: Sum) -> Sum:
        return Sum(tuple((node(n), c) for n, c in x.terms))

    return sums(s)


def _log_counts(s: Structure, normalize: str, v: Variables) -> tuple[Sum, Sum]:
    """``log WMC(ok)`` and ``log WMC(bad)`` over the generated code's variables."""
    _check_degenerate(s)
    atoms = tuple(range(len(s.atoms)))
    return (_shift(log_wmc(Region(atoms, s.ok_mask)), s, normalize, v),
            _shift(log_wmc(Region(atoms, s.bad_mask)), s, normalize, v))


def structure_rho(s: Structure, normalize: str = "none", v: Variables | None = None) -> Sum:
    """The semantic log-ratio of ``s`` over the generated code's variables ``v`` (by
    default those of ``s`` alone: :func:`structure_names` names them).

    >>> from logicpo.program import zoo
    >>> structure_rho(zoo().structure("ORPO")).text(NAMES)
    'pc - log1mexp(pc) - pr + log1mexp(pr)'
    >>> from logicpo.logic.structure import Structure
    >>> cpo3 = Structure.from_masks("CPO3", ("M(yw)", "M(yl)", "M(yl2)"), 0b10101010, 0b11111100)
    >>> structure_rho(cpo3).text(structure_names(cpo3))
    'pc - logaddexp(pr, M_yl2 + log1mexp(pr))'
    """
    log_ok, log_bad = _log_counts(s, normalize, v or Variables.of([s.atoms]))
    return log_ok - log_bad


def structure_names(s: Structure) -> tuple[str, ...]:
    """The variable names :func:`structure_rho` uses for ``s`` by default."""
    return Variables.of([s.atoms]).names


def _log_ratio(t: ResolvedTerm, v: Variables) -> tuple[Sum | None, Sum | None]:
    """``(rho, None)``, or ``(None, log WMC(ok))`` when the paper's loss is ``-log WMC(ok)``:
    plain logistic on regions that split the worlds."""
    s = t.structure
    log_ok, log_bad = _log_counts(s, t.normalize, v)
    partition = (s.ok_mask & s.bad_mask == 0
                 and s.ok_mask | s.bad_mask == full_mask(len(s.atoms)))
    plain = t.beta == 1.0 and t.gamma == 0.0 and t.label_smoothing == 0.0
    if t.family == "logistic" and plain and partition:
        return None, log_ok
    return log_ok - log_bad, None


def _num(x: float) -> str:
    return repr(float(x))


class _Writer:
    """Turns sums into code, naming every shared node once.

    A per-token log-prob that only appears linearly at the top of a log-ratio is not
    given a variable of its own: the top-level sum divides once per side,
    ``(pc - rc) / nc - (pr - rr) / nr``, two divisions instead of four (IPO,
    length-normalised DPO).
    """

    def __init__(self, sums: list[Sum], v: Variables, kept: frozenset[int] = frozenset(),
                 negated: frozenset[int] = frozenset(), negate_vars: bool = False) -> None:
        self.v = v
        self.worlds: list[tuple] = []        # columns of each Worlds node (class attribute)
        self.names: dict = {}
        self.lines: list[str] = []
        self.nested_vars: set[int] = set()   # atoms read inside log1mexp / logaddexp nodes
        self.top_vars: set[int] = set()      # atoms read linearly at the top of a sum
        self.kept = kept                     # per-token atoms the rewards read: named
        self.ratios: dict[str, tuple[dict, str]] = {}   # shared log-ratio: (pattern, code)
        self.used_ratios: list[str] = []
        self.ratio_note = "log-ratio, shared with the rewards"  # the comment of their lines
        for s in sums:
            self._collect_vars(s, nested=False)
        nodes = nodes_in_order(sums)
        # what is computed with its sign flipped (see _negatable): literals, per-token vars
        self.flipped: set = set()
        self.flipped_vars: set[int] = set()
        uses = _uses(sums)
        # logaddexp(a, b + log1mexp(x)) with that log1mexp read nowhere else: one node
        self.fused: dict = {}
        for node in nodes:
            if isinstance(node, LogAddExp) and (found := _fusable(node, uses)) is not None:
                self.fused[node] = found
        inside = {lit for a, lit, b in self.fused.values()}
        literals = [n for n in nodes if _is_literal(n) and n not in inside]
        if literals and all(_negatable(uses[n], negated) for n in literals):
            self.flipped.update(literals)
        self.flipped.update(n for n in self.fused if _negatable(uses[n], negated))
        if negate_vars:
            self.flipped_vars = {a for a in self.top_vars - self.nested_vars - kept
                                 if v.mode(a) != "none" and not self._divided_late(a)
                                 and _negatable(uses[a], negated)}
        # negated atoms first, all in one log1mexp call: one autograd node, not one per atom
        for node in literals:
            prefix = "neg_l1m_" if node in self.flipped else "l1m_"
            self.names[node] = prefix + v.names[node.arg.terms[0][0].atom]
        if literals:
            targets = ", ".join(self.names[n] for n in literals)
            args = ", ".join(self.code(n.arg) for n in literals)
            each = " each" if len(literals) > 1 else ""
            call = "neg_log1mexp" if literals[0] in self.flipped else "log1mexp"  # all or none
            self.lines.append(f"{targets} = {call}({args})  # (B,){each}")
        counter = 0
        for node in nodes:
            if node in self.names or node in inside:
                continue
            counter += 1
            name = f"t{counter}"
            note = ""
            if node in self.fused:
                a, lit, b = self.fused[node]
                args = [self.code(a), self.code(lit.arg)] + ([self.code(b)] if b.terms else [])
                if node in self.flipped:
                    name, args = "neg_" + name, [*args, "negate=True"]
                expr = f"logaddexp_log1mexp({', '.join(args)})"
            elif isinstance(node, Log1mexp):
                expr = f"log1mexp({self.code(node.arg)})"
            elif isinstance(node, Worlds):
                self.worlds.append(node.columns())
                literals = ", ".join(self.code(lit) for lit in node.literals())
                expr = f"logsumexp_worlds(self.worlds[{len(self.worlds) - 1}], {literals})"
                atoms = ", ".join(v.atoms[a % len(v.atoms)] for a in node.vars)
                note = (f" no factorised form: logsumexp over the {len(node.worlds)} worlds "
                        f"of {atoms}")
            else:
                expr = f"torch.logaddexp({self.code(node.a)}, {self.code(node.b)})"
            self.lines.append(f"{name} = {expr}  # (B,){note}")
            self.names[node] = name

    def _collect_vars(self, s: Sum, nested: bool) -> None:
        for n, _ in s.terms:
            if isinstance(n, Var):
                (self.nested_vars if nested else self.top_vars).add(n.atom)
            elif isinstance(n, Log1mexp):
                self._collect_vars(n.arg, True)
            elif isinstance(n, Worlds):
                self.nested_vars.update(n.vars)
            else:
                self._collect_vars(n.a, True)
                self._collect_vars(n.b, True)

    def _divided_late(self, atom: int) -> bool:
        """A per-token log-prob (normalize=length) that is divided in the sum, not named."""
        return (self.v.mode(atom) == "length" and atom not in self.nested_vars
                and atom not in self.kept)

    def share_ratio(self, name: str, atoms: tuple[int, int]) -> None:
        """Name the log-ratio ``atoms[0] - atoms[1]`` (``pc - rc``) wherever a top-level sum
        has it (with any coefficient): the loss and the rewards then compute it once."""
        a, b = atoms
        v = self.v
        if all(self._divided_late(x) for x in atoms):
            code = f"({v.base(a)} - {v.base(b)}) / {v.length(a)}"
        else:
            code = f"{v.names[a]} - {v.names[b]}"
        self.ratios[name] = ({a: 1, b: -1}, code)

    def _substitute(self, s: Sum) -> list:
        """``s``'s terms with every shared log-ratio it contains replaced by its name
        (reads only: :meth:`top` records the names the code uses)."""
        coef = {n.atom: c for n, c in s.terms if isinstance(n, Var)}
        taken: set[int] = set()
        extra = []
        for name, (pattern, _) in self.ratios.items():
            atoms = list(pattern)
            if not all(a in coef and a not in taken for a in atoms):
                continue
            k = coef[atoms[0]] * pattern[atoms[0]]
            if all(coef[a] == k * pattern[a] for a in atoms):
                taken.update(atoms)
                extra.append((name, k))
        rest = [(n, c) for n, c in s.terms if not (isinstance(n, Var) and n.atom in taken)]
        return extra + rest

    def ratio_lines(self) -> list[str]:
        return [f"{name} = {self.ratios[name][1]}  # (B,) {self.ratio_note}"
                for name in self.used_ratios]

    def scale_ratios(self, beta: float) -> None:
        """Every shared log-ratio is computed times ``beta`` (TRL's ``beta * (pc - rc)``),
        once for the loss and the rewards: see :func:`_scaled`."""
        self.ratios = {name: (pattern, f"{_num(beta)} * ({code})")
                       for name, (pattern, code) in self.ratios.items()}
        self.ratio_note = f"{beta:g} * log-ratio, shared with the rewards"

    def only_ratios(self, s: Sum) -> bool:
        """Is ``s`` a combination of the shared log-ratios alone?"""
        return all(isinstance(n, str) for n, _ in self._substitute(s))

    def _var_name(self, atom: int) -> str:
        name = self.v.names[atom]
        return "neg_" + name if atom in self.flipped_vars else name

    def _sign(self, node) -> int:
        """-1 for what is computed with its sign flipped (and read with it flipped back)."""
        flipped = (node.atom in self.flipped_vars if isinstance(node, Var)
                   else node in self.flipped)
        return -1 if flipped else 1

    def code(self, s: Sum) -> str:
        """``s`` as an expression over the named variables and nodes."""
        terms = [(n, c * self._sign(n)) for n, c in s.terms]
        return render(terms, lambda n: self._var_name(n.atom) if isinstance(n, Var)
                      else self.names[n])

    def top(self, s: Sum) -> str:
        """``s`` at the top of a log-ratio: shared log-ratios by name, per-token terms
        grouped by their token count."""
        terms = self._substitute(s)
        for n, _ in terms:  # a shared log-ratio the code reads: its line is written
            if isinstance(n, str) and n not in self.used_ratios:
                self.used_ratios.append(n)
        late = [(n, c) for n, c in terms if isinstance(n, Var) and self._divided_late(n.atom)]
        rest = [(n, c) for n, c in terms if (n, c) not in late]
        pairs: list = []
        v = self.v
        for length in v.length_names:
            group = [(n, c) for n, c in late if v.length(n.atom) == length]
            if not group:
                continue
            sign = -1 if all(c < 0 for _, c in group) else 1
            inner = render([(n, sign * c) for n, c in group], lambda n: v.base(n.atom))
            pairs.append((f"{_paren(inner)} / {length}", sign))
        if len(pairs) == 1 and pairs[0][1] == -1 and not rest:
            # -(x / n) is x / -n to the bit; the length needs no autograd node, the minus did
            return pairs[0][0].replace(" / ", " / -")
        pairs += [(n, c) if isinstance(n, str) else
                  (self._var_name(n.atom), c * self._sign(n)) if isinstance(n, Var)
                  else (self.names[n], c * self._sign(n)) for n, c in rest]
        return render(pairs, str)

    def normalisation_lines(self) -> list[str]:
        out = []
        v = self.v
        for atom in sorted(self.nested_vars | self.top_vars | self.kept):
            if v.mode(atom) == "none" or self._divided_late(atom):
                continue
            base, n, var = v.base(atom), v.length(atom), self._var_name(atom)
            if atom in self.flipped_vars:  # read only with a minus: x / -n, no minus node
                if v.mode(atom) == "length":
                    out.append(f"{var} = {base} / -{n}  # (B,) minus the per-token log-prob")
                else:
                    out.append(f"{var} = -{base} if {n} is None else {base} / -{n}  # (B,)")
            elif v.mode(atom) == "length":
                out.append(f"{var} = {base} / {n}  # (B,) per-token log-prob")
            else:
                out.append(f"{var} = {base} if {n} is None else {base} / {n}  # (B,)")
        return out


def _uses(sums: list[Sum]) -> dict:
    """Where each node and atom is read: ``key -> [(sum index, nested, coefficient)]``,
    keys the nodes and (for atoms) the atom numbers; nested reads have coefficient 0."""
    uses: dict = {}

    def visit(s: Sum, i: int, nested: bool) -> None:
        for n, c in s.terms:
            key = n.atom if isinstance(n, Var) else n
            uses.setdefault(key, []).append((i, nested, 0 if nested else c))
            if isinstance(n, Log1mexp):
                visit(n.arg, i, True)
            elif isinstance(n, LogAddExp):
                visit(n.a, i, True)
                visit(n.b, i, True)
            elif isinstance(n, Worlds):
                for lit in n.literals():  # its atoms and their log1mexp nodes
                    visit(lit, i, True)

    for i, s in enumerate(sums):
        visit(s, i, False)
    return uses


def _fusable(node: LogAddExp, uses: dict) -> tuple[Sum, Log1mexp, Sum] | None:
    """``(a, log1mexp(x), b)`` when ``node`` is ``logaddexp(a, b + log1mexp(x))`` (either
    side) and that ``log1mexp`` of one atom is read nowhere else: the runtime's
    :func:`~logicpo.numbers.module.logaddexp_log1mexp` computes it in one autograd node
    (unCPO's count: 0.89x the hand-written ``-logaddexp(pc + pr, log(-expm1(pr)))`` at batch
    64, where four nodes cost more than their kernels)."""
    for a, side in ((node.a, node.b), (node.b, node.a)):
        for term, c in side.terms:
            if c == 1 and _is_literal(term) and len(uses[term]) == 1:
                rest = Sum(tuple((n, k) for n, k in side.terms if n != term))
                return a, term, rest
    return None


def _negatable(uses: list, negated: frozenset[int]) -> bool:
    """Is something read only at the top of sums the code computes as they are (their
    indices ``negated``: the ``-log WMC(ok)`` of a loss, written out negated), each time with
    a minus sign? Then it is computed negated and read with a plus: ``neg_log1mexp(pr)``
    for ``-log1mexp(pr)``, ``pc / -nc`` for ``-(pc / nc)``, and the minus costs no
    autograd node (at batch 64, a node costs about as much as its kernels)."""
    return all(i in negated and not nested and c < 0 for i, nested, c in uses)


def _is_literal(node) -> bool:
    """Is ``node`` ``log1mexp(x)`` of one atom's log-prob ``x``?"""
    return (isinstance(node, Log1mexp) and len(node.arg.terms) == 1
            and isinstance(node.arg.terms[0][0], Var) and node.arg.terms[0][1] == 1)


def _atomic(expr: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", expr) is not None


def _paren(expr: str) -> str:
    return expr if _atomic(expr) else f"({expr})"


def _outer(t: ResolvedTerm, rho: str, neg_rho: str, k: int) -> tuple[list[str], str, str]:
    """Code lines, final expression and display text of ``f`` applied to ``rho``.

    ``neg_rho`` is ``-rho`` with its signs flipped in the code, so that ``-s``
    costs no extra operation: ``-log sigmoid(s)`` is written ``softplus(-s)``.
    """
    beta, gamma, eps, tau = t.beta, t.gamma, t.label_smoothing, t.tau
    r = _paren(rho)
    s = r if beta == 1.0 else f"{_num(beta)} * {r}"
    if beta == 1.0:
        neg = neg_rho
    elif rho.startswith("-") and not neg_rho.startswith("-"):
        neg = f"{_num(beta)} * {_paren(neg_rho)}"  # 0.1 * lr_r, not -0.1 * (-lr_r)
    else:
        neg = f"{_num(-beta)} * {r}"
    s_text = "rho" if beta == 1.0 else f"{beta:g} * rho"
    if gamma:
        s, s_text = f"{s} - {_num(gamma)}", f"{s_text} - {gamma:g}"
        neg = f"{neg} + {_num(gamma)}"
    lines: list[str] = []
    code = Code(r=r, s=s, neg=neg, s_text=s_text, beta=beta, gamma=gamma, eps=eps, tau=tau,
                k=k, num=_num, paren=_paren, lines=lines)
    expr, text = FAMILIES[t.family].code(code)  # the family registry's template
    return lines, expr, text


def _rho_text(s: Sum, v: Variables = _CLASSIC) -> str:
    return s.text(v.names)


@dataclass(frozen=True)
class _Reward:
    """What one side's rewards read (spec of :mod:`logicpo.numbers.module`): response
    ``response``'s log-ratio policy - reference (``ratio``), else its policy log-prob
    (``policy``), else nothing (0); per token when ``per_token``."""

    response: str
    ratio: bool
    policy: bool
    per_token: bool

    @property
    def mode(self) -> str:
        return "length" if self.per_token else "none"


def _rewards_of(v: Variables, atoms: tuple[str, ...], terms, uses_reference: bool,
                needs_lengths: bool) -> tuple[_Reward, _Reward]:
    """Chosen rewards about ``yw``, rejected about ``yl``. The classic rule as it always was
    (log-ratios when the loss uses the reference, per token when any term is
    length-normalised); for other atoms, response by response."""
    length_atoms = {a for t in terms if t.normalize == "length" for a in t.structure.atoms}
    out = []
    for response in ("yw", "yl"):
        policy, reference = atom_name("M", response), atom_name("Ref", response)
        if v.classic:
            out.append(_Reward(response, uses_reference, True, needs_lengths))
        else:
            out.append(_Reward(response, policy in atoms and reference in atoms,
                               policy in atoms,
                               any(response_of(a) == response for a in length_atoms)))
    return out[0], out[1]


def generate(spec: str, doc: str, terms: list[ResolvedTerm], params: dict, dsl: str
             ) -> Generated:
    """The code of a ``CompiledLoss`` subclass computing ``sum(weight * term)``;
    ``dsl`` is the objective's DSL source, shown in the docstring."""
    v = Variables.of(t.structure.atoms for t in terms)
    atoms = tuple(sorted({a for t in terms for a in t.structure.atoms}, key=atom_key))
    ratios = [_log_ratio(t, v) for t in terms]
    reads_ref = any(model_of(a) == "Ref" for a in atoms)
    if v.classic:  # (structures of the DSL are over all four or over M(yw), M(yl))
        uses_reference = reads_ref or any(t.structure.uses_reference for t in terms)
        atoms = ATOMS_REF if uses_reference else ATOMS_REF[:2]
    else:
        uses_reference = reads_ref
    needs_lengths = any(t.normalize == "length" for t in terms)
    lengths_required = tuple(r for r in responses_of(atoms) if any(
        t.normalize == "length" and r in responses_of(t.structure.atoms) for t in terms))
    rewards = _rewards_of(v, atoms, terms, uses_reference, needs_lengths)
    # the rewards read per-token policy log-probs: named, not divided inside a sum
    kept = frozenset(v.index(atom_name("M", r.response), "length") for r in rewards
                     if r.policy and not r.ratio and r.per_token)
    # a -log WMC(ok) term is written as the sum ZERO - log WMC(ok): what only it reads with
    # a minus is computed negated (see _negatable), unless a shared log-ratio reads atoms
    writer = _Writer([rho if rho is not None else ZERO - log_ok for rho, log_ok in ratios],
                     v, kept, negated=frozenset(i for i, (rho, _) in enumerate(ratios)
                                                if rho is None),
                     negate_vars=not any(r.ratio for r in rewards))
    for label, r in zip(("lr_c", "lr_r"), rewards, strict=True):
        if r.ratio:
            writer.share_ratio(label, (v.index(atom_name("M", r.response), r.mode),
                                       v.index(atom_name("Ref", r.response), r.mode)))
    scaled = uses_reference and _scaled(writer, terms, ratios, params["beta"])
    if scaled:
        writer.scale_ratios(params["beta"])
    body: list[str] = []
    forms: list[TermForm] = []
    single = len(terms) == 1 and terms[0].weight == 1.0
    weights = [t.weight for t in terms]
    for k, (t, (rho, log_ok)) in enumerate(zip(terms, ratios, strict=True), 1):
        if rho is None:
            code = writer.top(ZERO - log_ok)
            text = f"-{_paren(_rho_text(log_ok, v))}"
            body.append(f"# {t.text()}: -log WMC(ok) = {text}")
        else:
            top, neg_top = writer.top(rho), writer.top(ZERO - rho)
            lines, code, text = _outer(t, top, neg_top, k)
            # the ratios carry beta already: the same template with beta = 1
            beta = 1.0 if scaled and not _apart(writer, t) else t.beta
            if t.family == "linear" and t.gamma == 0.0 and not single:
                beta, weights[k - 1] = beta * t.weight, 1.0  # linear: its weight is a beta
            if beta != t.beta:
                lines, code, _ = _outer(dataclasses.replace(t, beta=beta), top, neg_top, k)
            body.append(f"# {t.text()}: rho = {_rho_text(rho, v)}")
            body.extend(lines)
        if not single:
            body.append(f"loss{k} = {code}  # (B,)")
        forms.append(TermForm(t, rho, log_ok, code, text,
                              tuple(enumerated([rho if rho is not None else log_ok]))))
    total = forms[0].code if single else render(
        [(k, w) for k, w in enumerate(weights, 1)], lambda k: f"loss{k}")
    chosen, rejected = (_reward_base(writer, r, params["beta"] if scaled else None)
                        for r in rewards)
    body.append(f"return {total}, {chosen}, {rejected}  "
                "# (B,) each: loss, what the rewards scale")
    body = (writer.normalisation_lines() + writer.ratio_lines() + list(writer.lines) + body)
    arguments = ("pc, pr, rc, rr, nc, nr" if v.classic
                 else ", ".join(v.names[:len(v.atoms)] + v.length_names))
    compute = f"    def compute(self, {arguments}):\n" + "\n".join(
        "        " + line for line in body)
    name = class_name(spec)
    generated = Generated(name, "", compute, dsl, tuple(forms), v, atoms, responses_of(atoms),
                          lengths_required, uses_reference)
    inputs = [] if v.classic else [
        "    classic = False",
        f"    atoms = {atoms!r}",
        f"    responses = {responses_of(atoms)!r}",
        f"    lengths_required = {lengths_required!r}",
        *([] if generated.factorised else ["    factorised = False"]),
        *([f"    worlds = ({', '.join(f'torch.tensor({c!r})' for c in writer.worlds)},)"]
          if writer.worlds else []),
    ]
    code = "\n".join([
        f"class {name}(CompiledLoss):",
        _indent(docstring(spec, doc, forms, dsl, generated), 4),
        "",
        f"    spec = {spec!r}",
        f"    source = {dsl!r}",
        f"    uses_reference = {uses_reference!r}",
        f"    needs_lengths = {needs_lengths!r}",
        f"    beta = {_num(params['beta'])}",
        *(["    rewards_scaled = True"] if scaled else []),
        f"    params = {params!r}",
        *inputs,
        "",
        compute,
        "",
    ])
    return dataclasses.replace(generated, code=code)


def _scaled(writer: _Writer, terms, ratios, beta: float) -> bool:
    """Can the shared log-ratios carry ``beta``? When every term is ``f(beta * rho - gamma)``
    with the rewards' beta and a ``rho`` made of the shared log-ratios alone, computing
    ``beta * (pc - rc)`` once serves the loss and the rewards, as TRL's code does (one
    multiplication per side instead of one for the loss and one for the rewards)."""
    return beta != 1.0 and all(
        _apart(writer, t) or (
            rho is not None and t.beta == beta and FAMILIES[t.family].reads_s
            and writer.only_ratios(rho) and writer.only_ratios(ZERO - rho))
        for t, (rho, _) in zip(terms, ratios, strict=True))


def _apart(writer: _Writer, t: ResolvedTerm) -> bool:
    """Does the term read none of the atoms of the shared log-ratios (SELM's term on ``ys``
    next to DPO's)? Then scaling the ratios by beta does not touch it. A classic term always
    reads one of them; only a loss over more atoms has such terms."""
    v = writer.v
    if v.classic:
        return False
    shared = {v.atoms[i % len(v.atoms)] for pattern, _ in writer.ratios.values()
              for i in pattern}
    return not shared & set(t.structure.atoms)


def _reward_base(writer: _Writer, reward: _Reward, beta: float | None = None) -> str:
    """What the rewards of one side scale by beta, as TRL logs them: the log-ratio policy -
    reference (reference losses) or the policy log-prob, per token when the loss is
    length-normalised (as TRL's CPOTrainer logs SimPO's rewards); 0 when the loss reads no
    policy log-prob of that response. A name the loss already computed when there is one; else computed
    here, on detached tensors (times ``beta`` when ``rewards_scaled``)."""
    v = writer.v
    if not reward.policy:
        return f"torch.zeros_like({v.names[0]})"
    policy = v.index(atom_name("M", reward.response))
    if reward.ratio:
        name = ("lr_c", "lr_r")[("yw", "yl").index(reward.response)]
        if name in writer.used_ratios:
            return name
        reference = v.index(atom_name("Ref", reward.response))
        diff = f"{v.names[policy]}.detach() - {v.names[reference]}.detach()"
        diff = f"({diff}) / {v.length(policy)}" if reward.per_token else diff
    elif reward.per_token:  # kept: named by normalisation_lines
        diff = v.names[v.index(atom_name("M", reward.response), "length")]
    else:
        diff = v.names[policy]
    return diff if beta is None else f"{_num(beta)} * ({diff})"  # rewards_scaled


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else "" for line in text.splitlines())


def docstring(spec: str, doc: str, forms: list[TermForm], source: str,
              generated: Generated | None = None) -> str:
    """The generated class's docstring: the loss, its structures, closed forms and DSL source."""
    lines = [f'"""{spec}' + (f": {doc}" if doc else ""), "",
             f"DSL source: {source}", ""]
    for form in forms:
        t, s = form.term, form.term.structure
        ok, bad = s.regions()
        lines.append(f"{t.text()}")
        lines.append(f"    structure {s.name}: core {s.core_text}, cond {s.cond_text}, "
                     f"add {s.add_text}")
        lines.append(f"    worlds over {', '.join(s.atoms)}: ok {' '.join(ok)}, bad {' '.join(bad)}")
        v = generated.variables if generated is not None else _CLASSIC
        if form.rho is None:
            lines.append(f"    loss = -log WMC(ok) = {form.text}")
        else:
            lines.append(f"    rho = log WMC(ok) - log WMC(bad) = {_rho_text(form.rho, v)}")
            lines.append(f"    loss = {form.text}")
        for w in form.enumerated:
            lines.append(f"    no factorised form: a count over {len(w.vars)} atoms is a "
                         f"logsumexp over its {len(w.worlds)} worlds (O(2^k) work)")
        if t.normalize == "length":
            lines.append("    log-probs divided by their token counts (normalize=length)")
        elif t.normalize == "auto":
            lines.append("    log-probs divided by their token counts when lengths are given")
    if generated is None or generated.classic:
        lines += ["", "pc, pr, rc, rr: policy/reference log-probs of the chosen/rejected "
                  "responses."]
    else:
        required = generated.lengths_required
        read = [r for r in generated.responses if r not in required and any(
            f.term.normalize == "auto" and r in responses_of(f.term.structure.atoms)
            for f in forms)]
        use = ", ".join(
            [f"required for {', '.join(required)}"] * bool(required)
            + [f"read when given for {', '.join(read)}"] * bool(read)) or "none read"
        lines += ["", "Inputs: logps={atom: log-prob} for "
                  + ", ".join(f"{a} ({logp_name(a)})" for a in generated.atoms)
                  + "; lengths={response: token count} for "
                  + ", ".join(f"{r} ({length_name(r)})" for r in generated.responses)
                  + f" ({use})."]
    lines.append('"""')
    return "\n".join(lines).replace("\\", "\\\\")
