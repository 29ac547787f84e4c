"""Numerics of compiled losses: arbitrary structures, gradients, extreme log-probs, dtypes."""

from __future__ import annotations

import math
import random

import pytest
import torch

import logicpo
from logicpo.logic.formulas import ATOMS_REF, ATOMS_SINGLE
from logicpo.logic.objective import FAMILIES, Objective, Term
from logicpo.logic.structure import Structure
from logicpo.numbers import brute
from logicpo.numbers.api import compile_objective, compile_spec, instantiate
from logicpo.numbers.logwmc import Region, log_wmc
from logicpo.numbers.module import log1mexp
from logicpo.program import zoo

ZOO_OBJECTIVES = zoo().names_of("objective", zoo_only=True)
ZOO_STRUCTURES = [n for n in zoo().names_of("structure", zoo_only=True)
                  if zoo().structure(n).degeneracy is None]


def _inputs(n, seed, low=-6.0, high=-0.01):
    g = torch.Generator().manual_seed(seed)
    xs = [low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)
          for _ in range(4)]
    lengths = [torch.randint(1, 20, (n,), generator=g).to(torch.float64) for _ in range(2)]
    return xs + lengths


def _structure_loss(atoms, ok, bad, family="logistic"):
    s = Structure.from_masks("S", atoms, ok, bad)
    objective = Objective("S", (Term(1.0, family, s),))
    compiled = compile_objective("S", objective, {}, paper=True)
    return compiled, instantiate(compiled)


# ---------------------------------------------------------------- any structure


def _nondegenerate(n_atoms):
    worlds = 1 << n_atoms
    for ok in range(1, 1 << worlds):
        for bad in range(1, 1 << worlds):
            if ok != bad:
                yield ok, bad


def test_every_two_atom_structure_matches_brute_force():
    """All 16*16 region pairs over (M(yw), M(yl)) minus the degenerate ones: 210 losses."""
    xs = _inputs(64, 7)
    count = 0
    for ok, bad in _nondegenerate(2):
        compiled, module = _structure_loss(ATOMS_SINGLE, ok, bad)
        expected = brute.evaluate(list(compiled.terms), *xs)
        torch.testing.assert_close(module(*xs).losses, expected, rtol=1e-9, atol=1e-15,
                                   msg=f"ok={ok:04b} bad={bad:04b}")
        assert "logsumexp" not in compiled.generated.code
        count += 1
    assert count == 15 * 15 - 15


def test_random_four_atom_structures_match_brute_force():
    rng = random.Random(11)
    xs = _inputs(64, 8)
    for _ in range(60):
        ok, bad = rng.randrange(1, 1 << 16), rng.randrange(1, 1 << 16)
        if ok == bad:
            continue
        compiled, module = _structure_loss(ATOMS_REF, ok, bad)
        expected = brute.evaluate(list(compiled.terms), *xs)
        torch.testing.assert_close(module(*xs).losses, expected, rtol=1e-9, atol=1e-15,
                                   msg=f"ok={ok:016b} bad={bad:016b}")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_on_a_structure_with_negated_atoms(family):
    xs = _inputs(128, 9)
    params = {"label_smoothing": 0.05} if family == "exo" else {}
    s = zoo().structure("refunCPO")
    compiled = compile_objective("x", Objective("x", (Term(1.0, family, s),)), params)
    expected = brute.evaluate(list(compiled.terms), *xs)
    torch.testing.assert_close(instantiate(compiled)(*xs).losses, expected, rtol=1e-9, atol=0)


def test_log_wmc_of_a_region_is_its_probability():
    """exp(log WMC) = sum of world weights, computed by hand from the weights."""
    w = [0.7, 0.2, 0.45, 0.9]
    for table in (0b1011, 0b0110, 0b1001, 0b0111):
        region = Region((0, 1), table)
        expr = log_wmc(region)
        total = 0.0
        for k in range(4):
            if (table >> k) & 1:
                total += math.prod(w[i] if (k >> i) & 1 else 1 - w[i] for i in range(2))
        value = _eval(expr, [math.log(x) for x in w])
        assert value == pytest.approx(math.log(total), rel=1e-12)


def _eval(s, logps):
    from logicpo.numbers.logwmc import Log1mexp, Var

    def node(n):
        if isinstance(n, Var):
            return logps[n.atom]
        if isinstance(n, Log1mexp):
            return math.log(-math.expm1(_eval(n.arg, logps)))
        a, b = _eval(n.a, logps), _eval(n.b, logps)
        return max(a, b) + math.log1p(math.exp(-abs(a - b)))

    return sum(c * node(n) for n, c in s.terms)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("name", ZOO_OBJECTIVES + ["CE", "ORPO", "cCPO", "unCPO", "l20",
                                                   "refunCPO", "sCE"])
def test_gradcheck_float64(name):
    module = logicpo.loss(name)
    pc, pr, rc, rr, nc, nr = _inputs(6, 3, low=-4.0, high=-0.05)
    xs = tuple(x.clone().requires_grad_() for x in (pc, pr, rc, rr))

    def fn(*x):
        return module(*x, nc, nr).losses

    assert torch.autograd.gradcheck(fn, xs, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_gradient_of_dpo_by_hand():
    """d/dpc of -log sigmoid(b*D) is -b*sigmoid(-b*D); at the spec vector with b = 0.1,
    D = 0.7, so the gradient is -0.1*sigmoid(-0.07) = -0.048250..."""
    xs = [torch.tensor([v], dtype=torch.float64, requires_grad=True)
          for v in (-1.2, -2.3, -1.5, -1.9)]
    loss = logicpo.loss("sigmoid")(*xs).losses.sum()
    grads = torch.autograd.grad(loss, xs)
    g = -0.1 / (1 + math.exp(0.07))
    assert [x.item() for x in grads] == pytest.approx([g, -g, -g, g], rel=1e-12)


# ---------------------------------------------------------------- extreme log-probs

GRID = [-1e4, -1e3, -100.0, -10.0, -1.0, -0.1, -1e-3, -1e-8, -1e-20, 0.0]


def _grid(dtype):
    values = torch.tensor(GRID, dtype=torch.float64)
    mesh = torch.cartesian_prod(values, values, values, values)  # (10^4, 4)
    cols = [mesh[:, i].to(dtype) for i in range(4)]
    n = len(GRID) ** 4
    lengths = [torch.full((n,), 7.0, dtype=dtype), torch.full((n,), 3.0, dtype=dtype)]
    return cols, lengths


@pytest.mark.parametrize("name", ZOO_OBJECTIVES + ZOO_STRUCTURES)
def test_finite_losses_and_gradients_from_minus_1e4_to_0(name):
    """Wherever the exact value (brute force, float64) is finite, so are the compiled
    loss and its gradients, in float64 and float32."""
    compiled = compile_spec(name, {})
    module = instantiate(compiled)
    cols64, lengths64 = _grid(torch.float64)
    exact = brute.evaluate(list(compiled.terms), *cols64, *lengths64)
    finite = torch.isfinite(exact)
    assert finite.float().mean() > 0.5
    for dtype in (torch.float64, torch.float32):
        cols, lengths = _grid(dtype)
        xs = [c.clone().requires_grad_() for c in cols]
        losses = module(*xs, *lengths).losses
        assert torch.isfinite(losses[finite]).all(), (name, dtype)
        losses[finite].sum().backward()
        for x in xs:
            g = x.grad[finite] if x.grad is not None else torch.zeros(1)
            assert torch.isfinite(g).all(), (name, dtype)


def _exact_log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - e^x) at each (rounded) input, in 60 digits (mpmath ships with SymPy)."""
    import mpmath

    mpmath.mp.dps = 60
    return torch.tensor([float(mpmath.log(1 - mpmath.exp(mpmath.mpf(v))))
                         for v in x.double().tolist()], dtype=torch.float64)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_log1mexp_is_accurate_in_log_space(dtype):
    """The documented contract: error at most eps * max(1, |log(1 - e^x)|) from -1e-20 to -1e4
    (relative near 0 where the value is large, absolute in the tail where it is ~ -e^x)."""
    x = (-torch.logspace(-20, 4, 300, dtype=torch.float64)).to(dtype)
    exact = _exact_log1mexp(x)
    error = (log1mexp(x).double() - exact).abs()
    bound = torch.finfo(dtype).eps * exact.abs().clamp(min=1.0)
    assert (error <= bound).all(), (x[error > bound], error[error > bound])


def test_log1mexp_gradient_by_hand():
    """d/dx log(1 - e^x) = -e^x / (1 - e^x): at x = -ln 2 it is -1, at x = -1 it is
    -1/(e - 1) = -0.581976706869..."""
    x = torch.tensor([-math.log(2.0), -1.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(log1mexp(x).sum(), x)
    assert g.tolist() == pytest.approx([-1.0, -1 / (math.e - 1)], rel=1e-14)


def test_log1mexp_gradcheck_float64():
    """The hand-derived backward against finite differences, from -0.01 to -30."""
    x = -torch.logspace(-2, 1.5, 40, dtype=torch.float64)
    assert torch.autograd.gradcheck(log1mexp, (x.requires_grad_(),), atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_log1mexp_finite_from_minus_1e4_to_0(dtype):
    """Value finite for every log-prob below 0; gradient finite everywhere, 0 included."""
    x = torch.tensor(GRID, dtype=dtype)
    x = torch.cat([x, -torch.logspace(-30, 4, 200).to(dtype)]).requires_grad_()
    y = log1mexp(x)
    assert y.dtype == dtype
    assert torch.isfinite(y[x < 0]).all()
    y[x < 0].sum().backward()
    assert torch.isfinite(x.grad).all()


def test_log1mexp_at_zero_is_minus_inf_with_a_finite_gradient():
    """log(1 - e^0) = log 0 = -inf; the gradient there is 1 - 1/tiny (finite), so a zero
    upstream gradient stays exactly zero instead of becoming 0 * inf = NaN."""
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    y = log1mexp(x)
    assert torch.equal(y, torch.full((2,), -math.inf, dtype=torch.float64))
    (g,) = torch.autograd.grad(y, x, torch.tensor([1.0, 0.0], dtype=torch.float64))
    tiny = torch.finfo(torch.float64).tiny
    assert g[0].item() == 1 - 1 / tiny and g[1].item() == 0.0


def test_log1mexp_of_a_positive_number_is_nan():
    """A log-prob above 0 is a caller's bug: NaN, not a silently clamped number."""
    assert torch.isnan(log1mexp(torch.tensor([0.5]))).all()


def test_large_sequence_log_probs_make_orpo_behave_like_cpo():
    """Spec section 1: with sequence log-probs of -50 to -500, 1 - w rounds to 1 and the
    negated atoms stop mattering: ORPO and cCPO equal CPO to many digits."""
    xs = [torch.tensor([v], dtype=torch.float64) for v in (-120.0, -123.0, 0.0, 0.0)]
    cpo = logicpo.loss("CPO")(*xs).losses
    for name in ("ORPO", "cCPO"):
        torch.testing.assert_close(logicpo.loss(name)(*xs).losses, cpo, rtol=1e-12, atol=0)


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype,rtol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2),
                                        (torch.float16, 2e-2)])
@pytest.mark.parametrize("name", ["sigmoid", "orpo_full", "unCPO", "discopop", "ipo"])
def test_dtypes(name, dtype, rtol):
    pc, pr, rc, rr, nc, nr = _inputs(32, 5, low=-3.0, high=-0.2)
    module = logicpo.loss(name)
    reference = module(pc, pr, rc, rr, nc, nr).losses
    xs = [x.to(dtype).requires_grad_() for x in (pc, pr, rc, rr)]
    out = module(*xs, nc.to(dtype), nr.to(dtype))
    assert out.losses.dtype == dtype and out.chosen_rewards.dtype == dtype
    assert out.losses.shape == (32,)
    # compare with the float64 loss at the rounded inputs
    exact = module(*[x.detach().double() for x in xs], nc, nr).losses
    torch.testing.assert_close(out.losses.double(), exact, rtol=rtol, atol=rtol)
    out.losses.sum().backward()
    assert all(torch.isfinite(x.grad).all() for x in xs[:2])
    del reference


def test_batched_shapes_and_devices():
    module = logicpo.loss("sigmoid")
    xs = [torch.full((3, 2), -1.0), torch.full((3, 2), -2.0),
          torch.full((3, 2), -1.5), torch.full((3, 2), -1.5)]
    assert module(*xs).losses.shape == (3, 2)
    assert module.to("cpu")(*xs).losses.device.type == "cpu"
