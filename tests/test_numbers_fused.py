"""The fused runtime nodes the code generator writes: ``neg_log1mexp`` (-log(1 - e^x)) and
``logaddexp_log1mexp`` (log(e^a + e^b (1 - e^x))), each one autograd node with a backward
derived by hand. References: values at 60 digits (mpmath), gradients by hand and by finite
differences, and the unfused forms they replace."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from logicpo.numbers.module import log1mexp, logaddexp_log1mexp, neg_log1mexp

GRID = [-1e4, -1e3, -100.0, -10.0, -1.0, -0.1, -1e-3, -1e-8, -1e-20, 0.0]
VARIANTS = [(with_b, negate) for with_b in (False, True) for negate in (False, True)]


def _exact(a: float, x: float, b: float) -> float:
    """log(e^a + e^b (1 - e^x)) at 60 digits."""
    import mpmath

    mpmath.mp.dps = 60
    a, x, b = mpmath.mpf(a), mpmath.mpf(x), mpmath.mpf(b)
    return float(mpmath.log(mpmath.exp(a) + mpmath.exp(b) * (1 - mpmath.exp(x))))


def _call(a, x, b, with_b, negate):
    return logaddexp_log1mexp(a, x, b if with_b else None, negate=negate)


# ---------------------------------------------------------------- neg_log1mexp


def test_neg_log1mexp_is_minus_log1mexp_to_the_bit():
    x = torch.cat([torch.tensor(GRID[:-1], dtype=torch.float64),
                   -torch.logspace(-20, 4, 300, dtype=torch.float64)])
    assert torch.equal(neg_log1mexp(x), -log1mexp(x))
    y, z = neg_log1mexp(x, x / 2)
    assert torch.equal(y, -log1mexp(x)) and torch.equal(z, -log1mexp(x / 2))


def test_neg_log1mexp_gradient_by_hand():
    """d/dx -log(1 - e^x) = e^x / (1 - e^x): 1 at x = -ln 2, 1/(e - 1) at x = -1."""
    x = torch.tensor([-math.log(2.0), -1.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(neg_log1mexp(x).sum(), x)
    assert g.tolist() == pytest.approx([1.0, 1 / (math.e - 1)], rel=1e-14)


def test_neg_log1mexp_gradcheck_float64():
    x = -torch.logspace(-2, 1.5, 40, dtype=torch.float64)
    assert torch.autograd.gradcheck(neg_log1mexp, (x.clone().requires_grad_(),),
                                    atol=1e-7, rtol=1e-5)
    many = (x.clone().requires_grad_(), (x / 3).requires_grad_())
    assert torch.autograd.gradcheck(lambda u, v: neg_log1mexp(u, v), many,
                                    atol=1e-7, rtol=1e-5)


def test_neg_log1mexp_at_zero_is_inf_with_a_finite_gradient():
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    y = neg_log1mexp(x)
    assert torch.equal(y, torch.full((2,), math.inf, dtype=torch.float64))
    (g,) = torch.autograd.grad(y, x, torch.tensor([1.0, 0.0], dtype=torch.float64))
    tiny = torch.finfo(torch.float64).tiny
    assert g[0].item() == 1 / tiny - 1 and g[1].item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_neg_log1mexp_finite_from_minus_1e4_to_0(dtype):
    x = torch.cat([torch.tensor(GRID, dtype=dtype), -torch.logspace(-30, 4, 200).to(dtype)])
    x.requires_grad_()
    y = neg_log1mexp(x)
    assert y.dtype == dtype and torch.isfinite(y[x < 0]).all()
    y[x < 0].sum().backward()
    assert torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- logaddexp_log1mexp


def test_logaddexp_log1mexp_value_by_hand():
    """a = ln 1/4, x = ln 1/2, b = 0: log(1/4 + 1/2) = ln 3/4; with b = ln 2: ln 5/4."""
    a = torch.tensor([math.log(0.25)], dtype=torch.float64)
    x = torch.tensor([math.log(0.5)], dtype=torch.float64)
    assert logaddexp_log1mexp(a, x).item() == pytest.approx(math.log(0.75), rel=1e-15)
    b = torch.tensor([math.log(2.0)], dtype=torch.float64)
    assert logaddexp_log1mexp(a, x, b).item() == pytest.approx(math.log(1.25), rel=1e-15)
    assert logaddexp_log1mexp(a, x, b, negate=True).item() == pytest.approx(
        -math.log(1.25), rel=1e-15)


def test_logaddexp_log1mexp_gradient_by_hand():
    """At a = ln 1/4, x = ln 1/2, b = 0, e^out = 3/4: d/da = (1/4)/(3/4) = 1/3,
    d/db = (1/2)/(3/4) = 2/3, d/dx = -e^(b + x)/e^out = -2/3; negated, every sign flips."""
    for negate in (False, True):
        a, x, b = (torch.tensor([v], dtype=torch.float64, requires_grad=True)
                   for v in (math.log(0.25), math.log(0.5), 0.0))
        grads = torch.autograd.grad(logaddexp_log1mexp(a, x, b, negate=negate).sum(),
                                    (a, x, b))
        sign = -1 if negate else 1
        assert [g.item() for g in grads] == pytest.approx(
            [sign / 3, -sign * 2 / 3, sign * 2 / 3], rel=1e-14)


@pytest.mark.parametrize("with_b,negate", VARIANTS)
def test_logaddexp_log1mexp_gradcheck_float64(with_b, negate):
    g = torch.Generator().manual_seed(3)
    a = -(torch.rand(30, generator=g, dtype=torch.float64) * 6 + 0.05)
    x = -(torch.rand(30, generator=g, dtype=torch.float64) * 6 + 0.05)
    b = -(torch.rand(30, generator=g, dtype=torch.float64) * 6 + 0.05)
    inputs = tuple(t.requires_grad_() for t in (a, x, b))
    assert torch.autograd.gradcheck(lambda a, x, b: _call(a, x, b, with_b, negate), inputs,
                                    eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("with_b,negate", VARIANTS)
def test_logaddexp_log1mexp_matches_60_digits_and_the_unfused_form(with_b, negate):
    """Within a few float64 eps of the exact value over the grid (relative above 1, absolute
    below, as log1mexp's contract; torch.logaddexp rounds -3.7e-44 to 0), and bit for bit the unfused ``logaddexp(a, b + log1mexp(x))`` it replaces."""
    rows = list(itertools.product(GRID, GRID, GRID))
    a, x, b = (torch.tensor(col, dtype=torch.float64) for col in zip(*rows, strict=True))
    out = _call(a, x, b, with_b, negate)
    unfused = torch.logaddexp(a, (b if with_b else 0.0) + log1mexp(x))
    assert torch.equal(out, -unfused if negate else unfused)
    exact = torch.tensor([_exact(ai, xi, bi if with_b else 0.0) for ai, xi, bi in rows],
                         dtype=torch.float64)
    exact = -exact if negate else exact
    # log1mexp's contract: error at most a few eps * max(1, |value|), absolute near 0
    bound = 4 * torch.finfo(torch.float64).eps * exact.abs().clamp(min=1.0)
    close = (out - exact).abs() <= bound
    assert close.all(), [r for r, ok in zip(rows, close.tolist(), strict=True) if not ok][:5]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("with_b,negate", VARIANTS)
def test_logaddexp_log1mexp_finite_from_minus_1e4_to_0(dtype, with_b, negate):
    """Log-probs from -1e4 to 0, 0 included: the value is finite (e^a > 0 keeps it so) and so
    is every gradient, also where the exact d/dx overflows (x = 0 with e^a tiny)."""
    rows = list(itertools.product(GRID, GRID, GRID))
    a, x, b = (torch.tensor(col, dtype=dtype).requires_grad_()
               for col in zip(*rows, strict=True))
    out = _call(a, x, b, with_b, negate)
    assert out.dtype == dtype and torch.isfinite(out).all()
    out.sum().backward()
    for t in (a, x) + ((b,) if with_b else ()):
        assert torch.isfinite(t.grad).all(), dtype


# ---------------------------------------------------------------- second derivatives


def _inputs_below_zero(n, seed, count):
    g = torch.Generator().manual_seed(seed)
    return tuple((-(torch.rand(n, generator=g, dtype=torch.float64) * 6 + 0.05))
                 .requires_grad_() for _ in range(count))


def test_every_runtime_node_is_twice_differentiable():
    """create_graph=True differentiates the backward itself (Hessians, gradient penalties,
    meta-learning): gradgradcheck against finite differences of the first derivative, for
    log1mexp and the fused nodes, one tensor and several, every variant."""
    from logicpo.numbers.module import log1mexp as l1m

    (x,) = _inputs_below_zero(12, 1, 1)
    u, v = _inputs_below_zero(12, 2, 2)
    checks = [(l1m, (x,)), (neg_log1mexp, (x,)),
              (lambda p, q: l1m(p, q), (u, v)), (lambda p, q: neg_log1mexp(p, q), (u, v))]
    for with_b, negate in VARIANTS:
        checks.append((lambda a, x, b, w=with_b, n=negate: _call(a, x, b, w, n),
                       _inputs_below_zero(12, 3, 3)))
    for fn, inputs in checks:
        assert torch.autograd.gradgradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name", ["ORPO", "unCPO", "fUnl", "CEUnl", "cCPO", "cfUnl", "orpo"])
def test_hessians_of_compiled_losses_are_brute_forces(name):
    """The Hessian of a compiled loss in its four log-probs against the Hessian of float64
    world enumeration (plain torch operations, differentiated twice by autograd). Before the
    backwards were differentiable, unCPO's Hessian came out as 0 and ORPO's wrong."""
    import logicpo
    from logicpo.numbers import brute
    from logicpo.numbers.api import compile_spec

    compiled = compile_spec(name, {})
    module = logicpo.loss(name)
    xs = tuple(t.detach() for t in _inputs_below_zero(3, 7, 4))
    lengths = (torch.tensor([3.0, 5.0, 9.0], dtype=torch.float64),
               torch.tensor([4.0, 2.0, 7.0], dtype=torch.float64))

    def ours(*x):
        return module(*x, *lengths).losses.sum()

    def reference(*x):
        return brute.evaluate(list(compiled.terms), *x, *lengths).sum()

    got = torch.autograd.functional.hessian(ours, xs)
    want = torch.autograd.functional.hessian(reference, xs)
    for i in range(4):
        for j in range(4):
            torch.testing.assert_close(got[i][j], want[i][j], rtol=1e-9, atol=1e-12)
    assert any(want[i][j].abs().max() > 1e-3 for i in range(4) for j in range(4))


# ---------------------------------------------------------------- torch.func transforms


@pytest.mark.parametrize("name", ["ORPO", "unCPO", "fUnl", "CEUnl", "cCPO", "DPO", "orpo"])
def test_torch_func_gradients_hessians_and_per_example_gradients(name):
    """torch.func.grad, torch.func.hessian (forward over reverse mode) and vmap of grad (the
    per-example gradients of influence functions) of a compiled loss, against the same
    transforms of float64 world enumeration and against the batched gradient."""
    import logicpo
    from logicpo.numbers import brute
    from logicpo.numbers.api import compile_spec

    compiled = compile_spec(name, {})
    module = logicpo.loss(name)
    xs = tuple(t.detach() for t in _inputs_below_zero(5, 11, 4))
    lengths = (torch.tensor([3.0, 5.0, 9.0, 2.0, 4.0], dtype=torch.float64),
               torch.tensor([4.0, 2.0, 7.0, 6.0, 1.0], dtype=torch.float64))

    def ours(*x):
        return module(*x, *lengths).losses.sum()

    def reference(*x):
        return brute.evaluate(list(compiled.terms), *x, *lengths).sum()

    every = (0, 1, 2, 3)
    got, want = (torch.func.grad(f, argnums=every)(*xs) for f in (ours, reference))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-13)
    got_h, want_h = (torch.func.hessian(f, argnums=(0, 1))(*xs) for f in (ours, reference))
    for i in range(2):
        for j in range(2):
            torch.testing.assert_close(got_h[i][j], want_h[i][j], rtol=1e-9, atol=1e-12)

    def one(pc, pr, rc, rr, nc, nr):
        return module(pc, pr, rc, rr, nc, nr).losses.sum()

    per_example = torch.func.vmap(torch.func.grad(one))(
        *[x.unsqueeze(1) for x in xs], *[n.unsqueeze(1) for n in lengths])
    torch.testing.assert_close(per_example.squeeze(1), want[0], rtol=1e-10, atol=1e-13)
