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
from dataclasses import dataclass

from logicpo.errors import DegenerateStructureError
from logicpo.logic.families import FAMILIES, Code
from logicpo.logic.formulas import ATOMS_REF
from logicpo.logic.structure import Structure
from logicpo.logic.truth import full_mask
from logicpo.numbers.logwmc import (
    ZERO,
    Log1mexp,
    LogAddExp,
    Region,
    Sum,
    Var,
    log_wmc,
    nodes_in_order,
    render,
)
from logicpo.numbers.params import ResolvedTerm

BASE_NAMES = ("pc", "pr", "rc", "rr")
_MODES = ("none", "length", "auto")
# atom index 4*mode + i -> variable name in the generated code
NAMES = tuple(n + suffix for suffix in ("", "_n", "_a") for n in BASE_NAMES)
_LENGTHS = {"pc": "nc", "rc": "nc", "pr": "nr", "rr": "nr"}


@dataclass(frozen=True)
class TermForm:
    """How one term is computed: its log-ratio and closed form, as code and as text."""

    term: ResolvedTerm
    rho: Sum | None          # None when the loss is -log WMC(ok) directly
    log_ok: Sum | None
    code: str                # expression of the term's per-example loss
    text: str                # the same, for people: "-log sigmoid(0.1 * rho)"


@dataclass(frozen=True)
class Generated:
    """The generated class: its name, Python code, DSL source and per-term forms."""

    class_name: str
    code: str
    compute: str
    dsl: str
    forms: tuple[TermForm, ...]


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


def _shift(s: Sum, structure: Structure, mode: str) -> Sum:
    """Rename the structure's atoms to the global variable numbering for ``mode``."""
    offset = 4 * _MODES.index(mode)
    index = [ATOMS_REF.index(a) for a in structure.atoms]

    def node(n):
        if isinstance(n, Var):
            return Var(offset + index[n.atom])
        if isinstance(n, Log1mexp):
            return Log1mexp(sums(n.arg))
        return LogAddExp(sums(n.a), sums(n.b))

    def sums(x: Sum) -> Sum:
        return Sum(tuple((node(n), c) for n, c in x.terms))

    return sums(s)


def _log_counts(s: Structure, normalize: str) -> tuple[Sum, Sum]:
    """``log WMC(ok)`` and ``log WMC(bad)`` over the generated code's variables."""
    _check_degenerate(s)
    atoms = tuple(range(len(s.atoms)))
    return (_shift(log_wmc(Region(atoms, s.ok_mask)), s, normalize),
            _shift(log_wmc(Region(atoms, s.bad_mask)), s, normalize))


def structure_rho(s: Structure, normalize: str = "none") -> Sum:
    """The semantic log-ratio of ``s`` over the generated code's variable names.

    >>> from logicpo.program import zoo
    >>> structure_rho(zoo().structure("ORPO")).text(NAMES)
    'pc - log1mexp(pc) - pr + log1mexp(pr)'
    """
    log_ok, log_bad = _log_counts(s, normalize)
    return log_ok - log_bad


def _log_ratio(t: ResolvedTerm) -> tuple[Sum | None, Sum | None]:
    """``(rho, None)``, or ``(None, log WMC(ok))`` when the paper's loss is ``-log WMC(ok)``:
    plain logistic on regions that split the worlds."""
    s = t.structure
    log_ok, log_bad = _log_counts(s, t.normalize)
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

    def __init__(self, sums: list[Sum], kept: frozenset[int] = frozenset()) -> None:
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
        # negated atoms first, all in one log1mexp call: one autograd node, not one per atom
        literals = [n for n in nodes if _is_literal(n)]
        for node in literals:
            self.names[node] = "l1m_" + NAMES[node.arg.terms[0][0].atom]
        if literals:
            targets = ", ".join(self.names[n] for n in literals)
            args = ", ".join(self.code(n.arg) for n in literals)
            each = " each" if len(literals) > 1 else ""
            self.lines.append(f"{targets} = log1mexp({args})  # (B,){each}")
        counter = 0
        for node in nodes:
            if node in self.names:
                continue
            counter += 1
            name = f"t{counter}"
            if isinstance(node, Log1mexp):
                expr = f"log1mexp({self.code(node.arg)})"
            else:
                expr = f"torch.logaddexp({self.code(node.a)}, {self.code(node.b)})"
            self.lines.append(f"{name} = {expr}  # (B,)")
            self.names[node] = name

    def _collect_vars(self, s: Sum, nested: bool) -> None:
        for n, _ in s.terms:
            if isinstance(n, Var):
                (self.nested_vars if nested else self.top_vars).add(n.atom)
            elif isinstance(n, Log1mexp):
                self._collect_vars(n.arg, True)
            else:
                self._collect_vars(n.a, True)
                self._collect_vars(n.b, True)

    def _divided_late(self, atom: int) -> bool:
        """A per-token log-prob (normalize=length) that is divided in the sum, not named."""
        return 4 <= atom < 8 and atom not in self.nested_vars and atom not in self.kept

    def share_ratio(self, name: str, atoms: tuple[int, int]) -> None:
        """Name the log-ratio ``atoms[0] - atoms[1]`` (``pc - rc``) wherever a top-level sum
        has it (with any coefficient): the loss and the rewards then compute it once."""
        a, b = atoms
        if all(4 <= x < 8 and self._divided_late(x) for x in atoms):
            n = _LENGTHS[BASE_NAMES[a % 4]]
            code = f"({BASE_NAMES[a % 4]} - {BASE_NAMES[b % 4]}) / {n}"
        else:
            code = f"{NAMES[a]} - {NAMES[b]}"
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

    def code(self, s: Sum) -> str:
        """``s`` as an expression over the named variables and nodes."""
        return render(s.terms, lambda n: NAMES[n.atom] if isinstance(n, Var) else self.names[n])

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
        for length in ("nc", "nr"):
            group = [(n, c) for n, c in late if _LENGTHS[BASE_NAMES[n.atom % 4]] == length]
            if not group:
                continue
            sign = -1 if all(c < 0 for _, c in group) else 1
            inner = render([(n, sign * c) for n, c in group], lambda n: BASE_NAMES[n.atom % 4])
            pairs.append((f"{_paren(inner)} / {length}", sign))
        pairs += [(n if isinstance(n, str) else NAMES[n.atom] if isinstance(n, Var)
                   else self.names[n], c) for n, c in rest]
        return render(pairs, str)

    def normalisation_lines(self) -> list[str]:
        out = []
        for atom in sorted(self.nested_vars | self.top_vars | self.kept):
            if atom < 4 or self._divided_late(atom):
                continue
            base = BASE_NAMES[atom % 4]
            n = _LENGTHS[base]
            if atom < 8:
                out.append(f"{NAMES[atom]} = {base} / {n}  # (B,) per-token log-prob")
            else:
                out.append(f"{NAMES[atom]} = {base} if {n} is None else {base} / {n}  # (B,)")
        return out


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


def _rho_text(s: Sum) -> str:
    return s.text(NAMES)


def generate(spec: str, doc: str, terms: list[ResolvedTerm], params: dict, dsl: str
             ) -> Generated:
    """The code of a ``CompiledLoss`` subclass computing ``sum(weight * term)``;
    ``dsl`` is the objective's DSL source, shown in the docstring."""
    ratios = [_log_ratio(t) for t in terms]
    uses_reference = any(t.structure.uses_reference for t in terms)
    needs_lengths = any(t.normalize == "length" for t in terms)
    offset = 4 if needs_lengths else 0  # the rewards read per-token log-probs if any term does
    kept = frozenset() if uses_reference or not needs_lengths else frozenset({4, 5})
    writer = _Writer([rho if rho is not None else log_ok for rho, log_ok in ratios], kept)
    if uses_reference:
        writer.share_ratio("lr_c", (offset + 0, offset + 2))
        writer.share_ratio("lr_r", (offset + 1, offset + 3))
    scaled = uses_reference and _scaled(writer, terms, ratios, params["beta"])
    if scaled:
        writer.scale_ratios(params["beta"])
    body: list[str] = []
    forms: list[TermForm] = []
    single = len(terms) == 1 and terms[0].weight == 1.0
    for k, (t, (rho, log_ok)) in enumerate(zip(terms, ratios, strict=True), 1):
        if rho is None:
            code = f"-{_paren(writer.top(log_ok))}"
            text = f"-{_paren(_rho_text(log_ok))}"
            body.append(f"# {t.text()}: -log WMC(ok) = {text}")
        else:
            top, neg_top = writer.top(rho), writer.top(ZERO - rho)
            lines, code, text = _outer(t, top, neg_top, k)
            if scaled:  # the ratios carry beta already: the same template with beta = 1
                lines, code, _ = _outer(dataclasses.replace(t, beta=1.0), top, neg_top, k)
            body.append(f"# {t.text()}: rho = {_rho_text(rho)}")
            body.extend(lines)
        if not single:
            body.append(f"loss{k} = {code}  # (B,)")
        forms.append(TermForm(t, rho, log_ok, code, text))
    total = forms[0].code if single else render(
        [(k, t.weight) for k, t in enumerate(terms, 1)], lambda k: f"loss{k}")
    chosen, rejected = (_reward_base(writer, side, uses_reference, needs_lengths,
                                     params["beta"] if scaled else None) for side in (0, 1))
    body.append(f"return {total}, {chosen}, {rejected}  "
                "# (B,) each: loss, what the rewards scale")
    body = (writer.normalisation_lines() + writer.ratio_lines() + list(writer.lines) + body)
    compute = "    def compute(self, pc, pr, rc, rr, nc, nr):\n" + "\n".join(
        "        " + line for line in body)
    name = class_name(spec)
    code = "\n".join([
        f"class {name}(CompiledLoss):",
        _indent(docstring(spec, doc, forms, dsl), 4),
        "",
        f"    spec = {spec!r}",
        f"    source = {dsl!r}",
        f"    uses_reference = {uses_reference!r}",
        f"    needs_lengths = {needs_lengths!r}",
        f"    beta = {_num(params['beta'])}",
        *(["    rewards_scaled = True"] if scaled else []),
        f"    params = {params!r}",
        "",
        compute,
        "",
    ])
    return Generated(name, code, compute, dsl, tuple(forms))


def _scaled(writer: _Writer, terms, ratios, beta: float) -> bool:
    """Can the shared log-ratios carry ``beta``? When every term is ``f(beta * rho - gamma)``
    with the rewards' beta and a ``rho`` made of the shared log-ratios alone, computing
    ``beta * (pc - rc)`` once serves the loss and the rewards, as TRL's code does (one
    multiplication per side instead of one for the loss and one for the rewards)."""
    return beta != 1.0 and all(
        rho is not None and t.beta == beta and FAMILIES[t.family].reads_s
        and writer.only_ratios(rho) and writer.only_ratios(ZERO - rho)
        for t, (rho, _) in zip(terms, ratios, strict=True))


def _reward_base(writer: _Writer, side: int, uses_reference: bool, needs_lengths: bool,
                 beta: float | None = None) -> str:
    """What the rewards of ``side`` (0 chosen, 1 rejected) scale by beta, as TRL logs them:
    the log-ratio policy - reference (reference losses) or the policy log-prob, per token
    when the loss is length-normalised (as TRL's CPOTrainer logs SimPO's rewards). A name the
    loss already computed when there is one; else computed here, on detached tensors."""
    p, r, n = BASE_NAMES[side], BASE_NAMES[side + 2], ("nc", "nr")[side]
    if uses_reference:
        name = ("lr_c", "lr_r")[side]
        if name in writer.used_ratios:
            return name
        diff = f"{p}.detach() - {r}.detach()"
        diff = f"({diff}) / {n}" if needs_lengths else diff
        return diff if beta is None else f"{_num(beta)} * ({diff})"  # rewards_scaled
    if needs_lengths:
        return NAMES[4 + side]  # kept: named by normalisation_lines
    return p


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else "" for line in text.splitlines())


def docstring(spec: str, doc: str, forms: list[TermForm], source: str) -> str:
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
        if form.rho is None:
            lines.append(f"    loss = -log WMC(ok) = {form.text}")
        else:
            lines.append(f"    rho = log WMC(ok) - log WMC(bad) = {_rho_text(form.rho)}")
            lines.append(f"    loss = {form.text}")
        if t.normalize == "length":
            lines.append("    log-probs divided by their token counts (normalize=length)")
        elif t.normalize == "auto":
            lines.append("    log-probs divided by their token counts when lengths are given")
    lines += ["", "pc, pr, rc, rr: policy/reference log-probs of the chosen/rejected responses.",
              '"""']
    return "\n".join(lines).replace("\\", "\\\\")
