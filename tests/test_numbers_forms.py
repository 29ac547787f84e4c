"""The forms the code generator picks: the same numbers as brute force and as the closed forms,
rewards as TRL logs them, and stability where a cheaper-looking form would not be."""

from __future__ import annotations

import pytest
import torch

import logicpo
from logicpo.numbers import brute
from logicpo.numbers.api import compile_spec
from logicpo.program import zoo

ZOO_OBJECTIVES = zoo().names_of("objective", zoo_only=True)
ZOO_STRUCTURES = [n for n in zoo().names_of("structure", zoo_only=True)
                  if zoo().structure(n).degeneracy is None]


def _batch(n=256, seed=5):
    g = torch.Generator().manual_seed(seed)
    xs = [-(torch.rand(n, generator=g, dtype=torch.float64) * 8 + 1e-3) for _ in range(4)]
    lengths = [torch.randint(1, 40, (n,), generator=g).to(torch.float64) for _ in range(2)]
    return xs + lengths


@pytest.mark.parametrize("name", ZOO_OBJECTIVES + ZOO_STRUCTURES)
def test_rewards_are_beta_times_the_log_ratios_or_log_probs(name):
    """Written from TRL's convention, not from the module: beta * (policy - reference) for
    reference losses, beta * policy otherwise, per token when the loss is length-normalised;
    detached; whatever the generated code shares with the loss."""
    pc, pr, rc, rr, nc, nr = _batch()
    compiled = compile_spec(name, {})
    beta = compiled.params["beta"]
    xs = [x.clone().requires_grad_() for x in (pc, pr, rc, rr)]
    out = logicpo.loss(name)(*xs, nc, nr)
    chosen, rejected = (pc - rc, pr - rr) if compiled.uses_reference else (pc, pr)
    if compiled.needs_lengths:
        chosen, rejected = chosen / nc, rejected / nr
    torch.testing.assert_close(out.chosen_rewards, beta * chosen, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(out.rejected_rewards, beta * rejected, rtol=1e-12, atol=1e-15)
    assert not out.chosen_rewards.requires_grad and not out.rejected_rewards.requires_grad
    # the loss still has every gradient brute force has
    expected = brute.evaluate(list(compiled.terms), *[x.detach() for x in xs], nc, nr)
    torch.testing.assert_close(out.losses, expected, rtol=1e-9, atol=0.0)


def test_uncpo_is_finite_and_exact_where_the_nested_form_is_not():
    """unCPO's loss is -log(1 - e^pr + e^(pr + pc)); at pr = 0 it is -pc. The nested form
    -log(1 - e^(pr + log(1 - e^pc))) needs e^pc to relative accuracy inside a sum that rounds
    to 0, and gives inf in float32 at pc = -20; the generated logaddexp form gives 20, in one
    fused node: -logaddexp(pc + pr, log1mexp(pr))."""
    pc = torch.tensor([-20.0, -100.0, -1e4, -0.5])
    pr = torch.zeros(4)
    losses = logicpo.loss("unCPO")(pc, pr).losses
    torch.testing.assert_close(losses, -pc)
    code = compile_spec("unCPO", {}).generated.compute
    body = "\n".join(line.split("#")[0] for line in code.splitlines())
    assert body.count("logaddexp_log1mexp(pc + pr, pr, negate=True)") == 1, code
    assert "log1mexp(" not in body.replace("logaddexp_log1mexp(", ""), code


@pytest.mark.parametrize("name", ["ipo", "sigmoid_norm", "simpo", "orpo", "orpo_full"])
def test_length_normalised_forms_divide_once_per_side(name):
    """Per-token log-probs read only linearly are divided after the subtraction:
    (pc - rc) / nc, two divisions for four log-probs; the numbers are brute force's."""
    code = compile_spec(name, {}).generated.compute
    assert code.count(" / nc") + code.count(" / nr") == 2, code
    compiled = compile_spec(name, {})
    xs = _batch()
    torch.testing.assert_close(logicpo.loss(name)(*xs).losses,
                               brute.evaluate(list(compiled.terms), *xs), rtol=1e-9, atol=0.0)


def test_negated_atoms_share_one_log1mexp_call():
    code = compile_spec("ORPO", {}).generated.compute
    assert code.count("= log1mexp(") == 1 and "l1m_pc, l1m_pr = log1mexp(pc, pr)" in code
