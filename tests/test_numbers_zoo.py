"""Every zoo loss against the brute-force evaluator and against independent closed forms.

The closed forms below are written from the formulas in the papers and TRL's
documentation (../shared/spec/peer-losses.md), not from the compiler: they use
no structure, no region and no code of logicpo.numbers. All comparisons are in
float64 with relative tolerance 1e-9.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import logicpo
from logicpo.numbers import brute
from logicpo.numbers.api import compile_spec
from logicpo.program import zoo

RTOL = 1e-9
B = 512


def nls(z):
    """-log sigmoid(z)."""
    return -F.logsigmoid(z)


def l1m(x):
    """log(1 - e^x) for x < 0 (accurate enough in float64 for x in [-6, -0.01])."""
    return torch.log(-torch.expm1(x))


@pytest.fixture(scope="module")
def batch():
    """Random log-probs in [-6, -0.01] and token counts in 1..30, float64."""
    g = torch.Generator().manual_seed(1234)
    pc, pr, rc, rr = (-(torch.rand(B, generator=g, dtype=torch.float64) * 6 + 0.01)
                      for _ in range(4))
    nc, nr = (torch.randint(1, 31, (B,), generator=g).to(torch.float64) for _ in range(2))
    return pc, pr, rc, rr, nc, nr


def close(actual, expected, rtol=RTOL):
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=0.0)


# ---------------------------------------------------------------- independent closed forms
# TRL 1.x DPOTrainer loss types (beta = 0.1 is TRL's default), cl = pc - rc, rl = pr - rr.
def trl(name, pc, pr, rc, rr, nc, nr, beta=0.1, eps=None, tau=0.05):
    cl, rl = pc - rc, pr - rr
    d = cl - rl
    if name == "sigmoid":
        return nls(beta * d)
    if name == "hinge":
        return torch.relu(1 - beta * d)
    if name == "ipo":
        return (cl / nc - rl / nr - 1 / (2 * beta)) ** 2
    if name == "exo_pair":
        eps = 1e-3 if eps is None else eps
        u = beta * d
        return (torch.sigmoid(u) * (F.logsigmoid(u) - math.log(1 - eps))
                + torch.sigmoid(-u) * (F.logsigmoid(-u) - math.log(eps)))
    if name == "nca_pair":
        return nls(beta * cl) + 0.5 * nls(-beta * cl) + 0.5 * nls(-beta * rl)
    if name == "robust":
        eps = 0.0 if eps is None else eps
        return (-(1 - eps) * F.logsigmoid(beta * d) + eps * F.logsigmoid(-beta * d)) / (1 - 2 * eps)
    if name == "bco_pair":
        return nls(beta * cl) + nls(-beta * rl)
    if name == "sppo_hard":
        return (cl - 1 / (2 * beta)) ** 2 + (rl + 1 / (2 * beta)) ** 2
    if name == "apo_zero":
        return 1 - torch.sigmoid(beta * cl) + torch.sigmoid(beta * rl)
    if name == "apo_down":
        return torch.sigmoid(beta * cl) + 1 - torch.sigmoid(beta * d)
    if name == "discopop":
        u = beta * d
        m = torch.sigmoid(u / tau)
        return (1 - m) * nls(u) + m * torch.exp(-u)
    if name == "sigmoid_norm":
        return nls(beta * (cl / nc - rl / nr))
    raise KeyError(name)


DPO_TYPES = ["sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair",
             "sppo_hard", "apo_zero", "apo_down", "discopop", "sigmoid_norm"]


@pytest.mark.parametrize("name", DPO_TYPES)
def test_trl_dpo_loss_types_match_their_documented_formulas(name, batch):
    module = logicpo.loss(name)
    close(module(*batch).losses, trl(name, *batch))


@pytest.mark.parametrize("name", ["sigmoid", "hinge", "nca_pair", "sppo_hard", "discopop"])
def test_trl_loss_types_follow_beta(name, batch):
    close(logicpo.loss(name, beta=0.7)(*batch).losses, trl(name, *batch, beta=0.7))


def test_label_smoothing_reaches_exo_and_robust(batch):
    close(logicpo.loss("exo_pair", label_smoothing=0.2)(*batch).losses,
          trl("exo_pair", *batch, eps=0.2))
    close(logicpo.loss("robust", label_smoothing=0.1)(*batch).losses,
          trl("robust", *batch, eps=0.1))


def test_cdpo_is_logistic_with_label_smoothing(batch):
    """torchtune DPOLoss(beta, label_smoothing): -(1-e) log s(bD) - e log s(-bD)."""
    pc, pr, rc, rr, *_ = batch
    d = (pc - rc) - (pr - rr)
    expected = -(0.9) * F.logsigmoid(0.3 * d) - 0.1 * F.logsigmoid(-0.3 * d)
    close(logicpo.loss("sigmoid", beta=0.3, label_smoothing=0.1)(*batch).losses, expected)


def test_sft_is_the_nll_of_the_chosen_response(batch):
    pc, pr, rc, rr, nc, nr = batch
    sft = logicpo.loss("sft")
    close(sft(pc, pr).losses, -pc)
    close(sft(pc, pr, chosen_lengths=nc, rejected_lengths=nr).losses, -pc / nc)
    close(logicpo.loss("sft", beta=0.1)(pc, pr).losses, -pc)  # beta=1 is part of the NLL


# TRL CPOTrainer (x = pc - pr) and ORPOTrainer, reference-free
def test_cpo_structure_with_each_family(batch):
    pc, pr, *_ = batch
    x = pc - pr
    close(logicpo.loss("CPO", beta=0.1)(pc, pr).losses, nls(0.1 * x))
    close(logicpo.loss("CPO", f="hinge", beta=0.1)(pc, pr).losses, torch.relu(1 - 0.1 * x))
    close(logicpo.loss("CPO", f="square", beta=0.1)(pc, pr).losses, (x - 5.0) ** 2)
    close(logicpo.loss("hinge(CPO)")(pc, pr).losses, torch.relu(1 - 0.1 * x))


def test_simpo(batch):
    """TRL simpo: sigmoid form on x - gamma/beta with per-token averages; gamma 0.5."""
    pc, pr, rc, rr, nc, nr = batch
    x = pc / nc - pr / nr
    for beta, gamma in ((0.1, 0.5), (2.0, 0.5), (2.0, 1.25)):
        expected = nls(beta * (x - gamma / beta))
        module = logicpo.loss("simpo", beta=beta) if gamma == 0.5 else \
            logicpo.loss("simpo", beta=beta, gamma=gamma)
        close(module(pc, pr, None, None, nc, nr).losses, expected)


def _log_odds(pc, pr):
    return (pc - torch.log1p(-torch.exp(pc))) - (pr - torch.log1p(-torch.exp(pr)))


def test_orpo_odds_ratio_term_and_full_objective(batch):
    pc, pr, rc, rr, nc, nr = batch
    a_c, a_r = pc / nc, pr / nr
    ratio = -F.logsigmoid(_log_odds(a_c, a_r))
    close(logicpo.loss("orpo")(pc, pr, None, None, nc, nr).losses, ratio)
    close(logicpo.loss("orpo", beta=0.1)(pc, pr, None, None, nc, nr).losses, ratio)
    close(logicpo.loss("orpo_full")(pc, pr, None, None, nc, nr).losses, -a_c + 0.1 * ratio)


def test_cpo_full_adds_the_nll(batch):
    pc, pr, rc, rr, nc, nr = batch
    cpo = nls(0.1 * (pc - pr))
    close(logicpo.loss("cpo_full")(pc, pr).losses, cpo - pc)
    close(logicpo.loss("cpo_full")(pc, pr, None, None, nc, nr).losses, cpo - pc / nc)


def test_mpo_mixture_from_trl_docs(batch):
    """MPO = 0.8*sigmoid + 0.2*bco_pair + 1.0*sft (TRL loss_type list with weights)."""
    pc, pr, rc, rr, nc, nr = batch
    expected = 0.8 * trl("sigmoid", *batch) + 0.2 * trl("bco_pair", *batch) - pc
    close(logicpo.loss("0.8*sigmoid + 0.2*bco_pair + 1.0*sft")(pc, pr, rc, rr).losses, expected)


def test_rso_hinge_of_torchtune(batch):
    """torchtune RSOLoss(gamma): max(0, 1 - gamma*D), i.e. hinge with beta = gamma."""
    pc, pr, rc, rr, *_ = batch
    d = (pc - rc) - (pr - rr)
    close(logicpo.loss("hinge", beta=0.25)(pc, pr, rc, rr).losses, torch.relu(1 - 0.25 * d))


# ---------------------------------------------------------------- the paper's closed forms


def paper(name, pc, pr, rc, rr):
    """Spec section 5 closed forms (beta = 1)."""
    forms = {
        "CE": lambda: -pc,
        "CPO": lambda: nls(pc - pr),
        "ORPO": lambda: nls((pc - l1m(pc)) - (pr - l1m(pr))),
        "cCPO": lambda: nls(pc - pr - l1m(pc)),
        "unCPO": lambda: -torch.log(1 - torch.exp(pr) + torch.exp(pr + pc)),
        "cfUnl": lambda: nls(l1m(pr) - pr - l1m(pc)),
        "qfUnl": lambda: nls(l1m(pr) - l1m(pc)),
        "fUnl": lambda: -l1m(pr),
        "DPO": lambda: nls((pc - rc) - (pr - rr)),
    }
    return forms[name]()


@pytest.mark.parametrize("name", ["CE", "CPO", "ORPO", "cCPO", "unCPO", "cfUnl", "qfUnl",
                                  "fUnl", "DPO"])
def test_structures_match_the_papers_closed_forms(name, batch):
    pc, pr, rc, rr, *_ = batch
    close(logicpo.loss(name)(pc, pr, rc, rr).losses, paper(name, pc, pr, rc, rr))


VECTORS = [
    ((-1.2, -2.3, -1.5, -1.9), {"DPO": 0.403186, "CPO": 0.287335, "ORPO": 0.229946,
                                "cCPO": 0.209136, "unCPO": 0.072637}),
    ((-0.4, -0.9, -0.6, -0.5), {"DPO": 0.437488, "CPO": 0.474077, "ORPO": 0.290397,
                                "cCPO": 0.182289, "unCPO": 0.143914}),
]


@pytest.mark.parametrize("inputs,expected", VECTORS)
def test_spec_test_vectors(inputs, expected):
    xs = [torch.tensor([v], dtype=torch.float64) for v in inputs]
    for name, value in expected.items():
        assert logicpo.loss(name)(*xs).losses.item() == pytest.approx(value, abs=5e-7), name


def test_spec_test_vector_dpo_beta_01():
    xs = [torch.tensor([v], dtype=torch.float64) for v in (-1.2, -2.3, -1.5, -1.9)]
    assert logicpo.loss("DPO", beta=0.1)(*xs).losses.item() == pytest.approx(0.658760, abs=5e-7)
    assert logicpo.loss("sigmoid")(*xs).losses.item() == pytest.approx(0.658760, abs=5e-7)


# ---------------------------------------------------------------- brute force, everything


ZOO_OBJECTIVES = zoo().names_of("objective", zoo_only=True)
ZOO_STRUCTURES = [n for n in zoo().names_of("structure", zoo_only=True)
                  if zoo().structure(n).degeneracy is None]


def test_the_zoo_has_every_name_the_issue_requires():
    required = {"sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair",
                "sppo_hard", "apo_zero", "apo_down", "discopop", "sigmoid_norm", "sft",
                "simpo", "orpo", "cpo_full", "orpo_full"}
    assert required <= set(ZOO_OBJECTIVES)


@pytest.mark.parametrize("name", ZOO_OBJECTIVES + ZOO_STRUCTURES)
def test_compiled_zoo_matches_brute_force(name, batch):
    compiled = compile_spec(name, {})
    expected = brute.evaluate(list(compiled.terms), *batch)
    close(logicpo.loss(name)(*batch).losses, expected)


@pytest.mark.parametrize("name", ["sigmoid", "simpo", "discopop", "unCPO", "refunCPO", "l20"])
def test_compiled_matches_brute_force_with_parameters(name, batch):
    params = {"beta": 0.37, "gamma": 0.2} if name != "discopop" else {"beta": 0.37, "tau": 0.3}
    compiled = compile_spec(name, params)
    expected = brute.evaluate(list(compiled.terms), *batch)
    close(logicpo.loss(name, **params)(*batch).losses, expected)


@pytest.mark.parametrize("name", ZOO_OBJECTIVES + ZOO_STRUCTURES)
def test_generated_code_enumerates_no_worlds(name):
    code = compile_spec(name, {}).generated.code
    assert "logsumexp" not in code
