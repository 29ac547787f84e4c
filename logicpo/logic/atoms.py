"""Atoms: a model's judgement of a response, ``Model(response)``. The one home of their names.

Today's four atoms are the *classic* ones, ``M(yw)``, ``M(yl)``, ``Ref(yw)``, ``Ref(yl)``
(spec section 1). A file may declare more responses and models (``responses yw, yl, yg``,
``models M, Ref, Src``); every atom ``Model(response)`` is then a Boolean variable with
weight ``exp(logp)``, whatever the response or the model. This module says how atoms are
spelled, in which order a structure lists them, how their log-probs and token counts are
named in closed forms, compiled code and the decompiler, and which response a data field
or a rank fills. It imports no SymPy, torch or lark.

**Atom order.** A structure is over the atoms its fields mention, completed so that the
classic files keep their meaning exactly: a structure that mentions a ``Ref`` atom of
``yw`` or ``yl`` is over all four classic atoms, one that mentions ``M(yw)`` or ``M(yl)``
(or no atom at all) is over ``M(yw), M(yl)``. Other atoms follow the classic ones,
model by model (``M``, ``Ref``, then the rest by name), each model's responses in the
order ``yw``, ``yl``, then the rest by name (``yl2`` before ``yl10``).

>>> atom_order(["M(yg)", "M(yw)"])
('M(yw)', 'M(yl)', 'M(yg)')
>>> atom_order(["Ref(ys)", "M(ys)"])
('M(ys)', 'Ref(ys)')
>>> atom_order([]) == ATOMS_SINGLE, atom_order(["Ref(yl)"]) == ATOMS_REF
(True, True)
>>> logp_name("M(yw)"), logp_name("Ref(yg)"), length_name("yw"), length_name("yg")
('pc', 'Ref_yg', 'nc', 'n_yg')
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from logicpo.syntax.ast import DEFAULT_MODELS as CLASSIC_MODELS
from logicpo.syntax.ast import DEFAULT_RESPONSES as CLASSIC_RESPONSES

ATOMS_SINGLE: tuple[str, ...] = ("M(yw)", "M(yl)")
ATOMS_REF: tuple[str, ...] = ("M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)")
CLASSIC: frozenset[str] = frozenset(ATOMS_REF)

#: The TRL names of the classic atoms' log-probs, and of the classic responses' token counts.
CLASSIC_LOGP: dict[str, str] = {"M(yw)": "pc", "M(yl)": "pr", "Ref(yw)": "rc", "Ref(yl)": "rr"}
CLASSIC_LENGTH: dict[str, str] = {"yw": "nc", "yl": "nr"}

#: Fields of a preference example (a JSONL row) and the response each one fills.
DATA_FIELDS: dict[str, str] = {"chosen": "yw", "rejected": "yl", "gold": "yg", "sampled": "ys"}
#: What each well-known response is, for people.
RESPONSE_ROLES: dict[str, str] = {
    "yw": "the winner (chosen)", "yl": "the loser (rejected)",
    "yg": "a gold response (e.g. written by a person)",
    "ys": "a response sampled from the reference model",
}

_ATOM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(([A-Za-z_][A-Za-z0-9_]*)\)\Z")


def split(atom: str) -> tuple[str, str]:
    """``("M", "yg")`` for ``"M(yg)"``."""
    m = _ATOM.match(atom)
    if m is None:
        raise ValueError(f"not an atom: {atom!r} (atoms are Model(response), e.g. M(yw))")
    return m.group(1), m.group(2)


def name(model: str, response: str) -> str:
    return f"{model}({response})"


def model_of(atom: str) -> str:
    return split(atom)[0]


def response_of(atom: str) -> str:
    return split(atom)[1]


def natural_key(text: str) -> tuple:
    """Sort key that reads digits as numbers: ``yl2`` before ``yl10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def model_key(model: str) -> tuple:
    return (CLASSIC_MODELS.index(model), ()) if model in CLASSIC_MODELS else (9, natural_key(model))


def response_key(response: str) -> tuple:
    if response in CLASSIC_RESPONSES:
        return (CLASSIC_RESPONSES.index(response), ())
    return (9, natural_key(response))


def atom_key(atom: str) -> tuple:
    """Classic atoms first, in their order; then model by model, response by response."""
    if atom in CLASSIC:
        return (0, ATOMS_REF.index(atom))
    model, response = split(atom)
    return (1, model_key(model), response_key(response))


#: every atom tuple atom_order has answered, itself: equal tuples are one object, so the
#: caches keyed by atom order (``Structure.masks_over``, entailment's verdicts) compare keys
#: by identity, as they did when every tuple was ATOMS_SINGLE or ATOMS_REF
_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {ATOMS_SINGLE: ATOMS_SINGLE, ATOMS_REF: ATOMS_REF}


def atom_order(mentioned: Iterable[str]) -> tuple[str, ...]:
    """The atoms of a structure whose fields mention ``mentioned`` (see the module text)."""
    names = set(mentioned)
    if names & {"Ref(yw)", "Ref(yl)"}:
        names |= CLASSIC
    elif names & {"M(yw)", "M(yl)"} or not names:
        names |= set(ATOMS_SINGLE)
    order = tuple(sorted(names, key=atom_key))
    return _ORDERS.setdefault(order, order)


def union(*atom_tuples: Iterable[str]) -> tuple[str, ...]:
    """The atoms over which structures over these atom tuples are compared.

    >>> union(("M(yw)", "M(yl)"), ("M(yg)",))
    ('M(yw)', 'M(yl)', 'M(yg)')
    """
    return atom_order(a for atoms in atom_tuples for a in atoms)


def is_classic(atoms: Iterable[str]) -> bool:
    """Whether every atom is one of the classic four."""
    return all(a in CLASSIC for a in atoms)


def responses_of(atoms: Iterable[str]) -> tuple[str, ...]:
    """The responses these atoms judge, in atom order (``yw``, ``yl``, then by name)."""
    return tuple(sorted({response_of(a) for a in atoms}, key=response_key))


def models_of(atoms: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({model_of(a) for a in atoms}, key=model_key))


def logp_name(atom: str) -> str:
    """The variable that holds an atom's log-prob: TRL's ``pc, pr, rc, rr`` for the classic
    four, ``Model_response`` (``M_yg``, ``Ref_ys``) for any other."""
    classic = CLASSIC_LOGP.get(atom)
    if classic is not None:
        return classic
    model, response = split(atom)
    return f"{model}_{response}"


def length_name(response: str) -> str:
    """The variable that holds a response's token count: ``nc``, ``nr``, else ``n_<response>``."""
    return CLASSIC_LENGTH.get(response) or f"n_{response}"


#: the spelling of :func:`logp_name` and :func:`length_name` beyond the classic names
LOGP_NAME = re.compile(r"([A-Z][A-Za-z0-9]*)_(y[A-Za-z0-9]+)\Z")
LENGTH_NAME = re.compile(r"n_(y[A-Za-z0-9]+)\Z")


def atom_of_logp(variable: str) -> str | None:
    """The atom whose log-prob :func:`logp_name` calls ``variable``, or None.

    >>> atom_of_logp("pc"), atom_of_logp("Ref_ys"), atom_of_logp("n_yg")
    ('M(yw)', 'Ref(ys)', None)
    """
    for atom, logp in CLASSIC_LOGP.items():
        if logp == variable:
            return atom
    m = LOGP_NAME.match(variable)
    return name(m.group(1), m.group(2)) if m is not None else None


def response_of_length(variable: str) -> str | None:
    """The response whose token count :func:`length_name` calls ``variable``, or None.

    >>> response_of_length("nr"), response_of_length("n_yg"), response_of_length("pc")
    ('yl', 'yg', None)
    """
    for response, count in CLASSIC_LENGTH.items():
        if count == variable:
            return response
    m = LENGTH_NAME.match(variable)
    return m.group(1) if m is not None else None


def ranked_response(rank: int) -> str:
    """The response a ranked list's ``rank`` (1 = best) fills: ``yw``, ``yl``, ``yl2``, ...

    >>> [ranked_response(r) for r in (1, 2, 3, 4)]
    ['yw', 'yl', 'yl2', 'yl3']
    """
    if rank < 1:
        raise ValueError(f"ranks start at 1, not {rank}")
    return {1: "yw", 2: "yl"}.get(rank) or f"yl{rank - 1}"


def rename_response(atom: str, old: str, new: str) -> str:
    model, response = split(atom)
    return name(model, new) if response == old else atom
