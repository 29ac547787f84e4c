"""The fast paths of compiled losses (issue 14, batch 64) against the paths they shortcut.

``CompiledLoss.__call__`` computes TRL's positional call inline when nothing needs
``nn.Module.__call__``; ``forward`` (through ``nn.Module.__call__``) is the reference. Both
run the same generated ``compute``, so values and gradients must be equal bit for bit, not
merely close. ``log1mexp`` of one tensor calls the autograd.Function's C entry point; its
reference is ``torch.autograd.Function.apply`` on the same class, the shared several-tensor
node, and an independent float64 closed form written here.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import logicpo
from logicpo.numbers import module as runtime
from logicpo.numbers.module import LossInputError, LossOutput, log1mexp
from logicpo.program import zoo

ZOO_OBJECTIVES = zoo().names_of("objective", zoo_only=True)
ZOO_STRUCTURES = [n for n in zoo().names_of("structure", zoo_only=True)
                  if zoo().structure(n).degeneracy is None]


def _inputs(n, seed, dtype=torch.float64, low=-6.0, high=-0.01):
    g = torch.Generator().manual_seed(seed)
    xs = [(low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)).to(dtype)
          for _ in range(4)]
    lengths = [torch.randint(1, 20, (n,), generator=g).to(dtype) for _ in range(2)]
    return xs, lengths


def _run(call, xs, lengths):
    """Values and gradients of one call (fresh leaves, so the two paths share nothing)."""
    leaves = [x.clone().requires_grad_() for x in xs]
    out = call(*leaves, *lengths)
    g = torch.Generator().manual_seed(7)
    upstream = torch.randn(out.losses.shape, generator=g, dtype=torch.float64)
    (out.losses * upstream.to(out.losses.dtype)).sum().backward()
    grads = [x.grad if x.grad is not None else torch.zeros_like(x) for x in leaves]
    return out, grads


def _assert_same(a, b):
    (out_a, grads_a), (out_b, grads_b) = a, b
    assert type(out_a) is LossOutput and type(out_b) is LossOutput
    for x, y in zip([*out_a, *grads_a], [*out_b, *grads_b], strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert torch.equal(torch.nan_to_num(x), torch.nan_to_num(y)), (x, y)
    assert not out_a.chosen_rewards.requires_grad and not out_a.rejected_rewards.requires_grad


def _reference(module):
    """nn.Module.__call__ to forward: the path before the fast one."""
    return lambda *args, **kw: nn.Module.__call__(module, *args, **kw)


@pytest.mark.parametrize("name", ZOO_OBJECTIVES + ZOO_STRUCTURES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_inline_call_equals_forward_on_random_inputs(name, dtype):
    module = logicpo.loss(name)
    for seed in range(3):
        xs, lengths = _inputs(33, seed, dtype)
        _assert_same(_run(module, xs, lengths), _run(_reference(module), xs, lengths))


@pytest.mark.parametrize("name", ["CPO", "cCPO", "unCPO", "fUnl", "sigmoid", "hinge"])
def test_inline_call_without_lengths_or_reference(name):
    """The shorter calls TRL makes: no token counts, no reference for reference-free losses."""
    module = logicpo.loss(name)
    xs, _ = _inputs(17, 3)
    n = 4 if module.uses_reference else 2
    fast = _run(lambda *a: module(*a[:n]), xs, [])
    slow = _run(lambda *a: _reference(module)(*a[:n]), xs, [])
    _assert_same(fast, slow)


def test_inline_call_with_keyword_lengths_as_the_training_loop_calls_it():
    module = logicpo.loss("simpo")
    xs, (nc, nr) = _inputs(9, 4)
    fast = _run(lambda *a: module(*a[:4], chosen_lengths=nc, rejected_lengths=nr), xs, [])
    _assert_same(fast, _run(_reference(module), xs, [nc, nr]))


def test_extreme_log_probs_take_the_same_numbers_inline():
    """At log-prob 0 (log1mexp = -inf, its gradient 1 - 1/tiny) and -1e4 both paths agree,
    infinities included."""
    values = torch.tensor([0.0, -1e-20, -1e4, -0.5], dtype=torch.float64)
    xs = [values, values.flip(0), values.roll(1), values.roll(2)]
    lengths = [torch.full((4,), 3.0, dtype=torch.float64)] * 2
    for name in ("ORPO", "cCPO", "unCPO", "CEUnl", "fUnl", "cfUnl", "qfUnl", "orpo"):
        module = logicpo.loss(name)
        _assert_same(_run(module, xs, lengths), _run(_reference(module), xs, lengths))


def test_low_precision_and_tensor_subclasses_take_forward():
    """bfloat16 is computed in float32 by forward; a Parameter is a Tensor subclass: both go
    through nn.Module.__call__, so they give what forward gives."""
    module = logicpo.loss("orpo")
    xs, lengths = _inputs(8, 5, torch.bfloat16)
    out = module(*xs, *lengths)
    assert out.losses.dtype == torch.bfloat16
    ref = module.forward(*xs, *lengths)
    assert all(torch.equal(a, b) for a, b in zip(out, ref, strict=True))
    params = [nn.Parameter(x.float()) for x in xs]
    out = module(*params, *[n.float() for n in lengths])
    ref = module.forward(*[p.detach() for p in params], *[n.float() for n in lengths])
    assert all(torch.equal(a.detach(), b) for a, b in zip(out, ref, strict=True))


def test_forward_hooks_and_global_hooks_still_run():
    module = logicpo.loss("sigmoid")
    xs, lengths = _inputs(5, 6)
    seen = []
    handle = module.register_forward_pre_hook(lambda m, args: seen.append(("pre", len(args))))
    handle2 = module.register_forward_hook(lambda m, args, out: seen.append(("post", type(out))))
    out = module(*xs)
    assert seen == [("pre", 4), ("post", LossOutput)]
    assert torch.equal(out.losses, module.forward(*xs).losses)
    handle.remove()
    handle2.remove()
    glob = torch.nn.modules.module.register_module_forward_hook(
        lambda m, args, out: seen.append("global"))
    try:
        module(*xs, *lengths)
    finally:
        glob.remove()
    assert seen[-1] == "global"
    seen.clear()
    module(*xs)
    assert seen == []  # removed hooks leave the inline path


def test_a_hook_that_replaces_the_inputs_is_obeyed():
    module = logicpo.loss("CPO")
    xs, _ = _inputs(5, 8)
    module.register_forward_pre_hook(lambda m, args: (args[1], args[0]))
    torch.testing.assert_close(module(*xs[:2]).losses, module.forward(xs[1], xs[0]).losses,
                               rtol=0, atol=0)


def test_a_subclass_with_its_own_forward_is_called():
    cls = type(logicpo.loss("CPO"))

    class Doubled(cls):
        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            return LossOutput(2 * out.losses, out.chosen_rewards, out.rejected_rewards)

    xs, _ = _inputs(6, 9)
    torch.testing.assert_close(Doubled()(*xs[:2]).losses,
                               2 * logicpo.loss("CPO")(*xs[:2]).losses, rtol=0, atol=0)


@pytest.mark.parametrize("bad", [
    lambda xs, ns: (xs[0], xs[1][:3], xs[2], xs[3]),                 # another shape
    lambda xs, ns: (xs[0], xs[1], None, xs[3]),                      # a reference missing
    lambda xs, ns: (xs[0].long(), xs[1], xs[2], xs[3]),              # not floating point
    lambda xs, ns: (xs[0], xs[1].tolist(), xs[2], xs[3]),            # not a tensor
    lambda xs, ns: (xs[0], xs[1], xs[2], xs[3], ns[0], ns[1][:2]),   # a length of another shape
])
def test_inputs_that_do_not_fit_get_forwards_message(bad):
    module = logicpo.loss("sigmoid")
    xs, ns = _inputs(5, 10)
    args = bad(xs, ns)
    with pytest.raises(LossInputError) as fast:
        module(*args)
    with pytest.raises(LossInputError) as slow:
        module.forward(*args)
    assert str(fast.value) == str(slow.value)


def test_named_call_of_a_classic_loss_equals_the_positional_one():
    module = logicpo.loss("orpo")
    xs, (nc, nr) = _inputs(7, 11)
    named = _run(lambda pc, pr, rc, rr: module(logps={"M(yw)": pc, "M(yl)": pr},
                                               lengths={"yw": nc, "yl": nr}), xs[:2] + xs[:2], [])
    _assert_same(named, _run(lambda pc, pr, rc, rr: module(pc, pr, None, None, nc, nr),
                             xs[:2] + xs[:2], []))


# ---------------------------------------------------------------- log1mexp


def _closed_form(v: float) -> float:
    return math.log(-math.expm1(v)) if v < 0 else -math.inf


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_log1mexp_entry_points_agree(dtype):
    """The C entry point, Function.apply, the several-tensor node and the closed form give
    the same values; the three autograd paths the same gradients, bit for bit."""
    g = torch.Generator().manual_seed(12)
    x = torch.cat([-torch.rand(50, generator=g, dtype=torch.float64) * 40,
                   torch.tensor([0.0, -1e-30, -1e4], dtype=torch.float64)]).to(dtype)
    upstream = torch.randn(x.shape, generator=g, dtype=torch.float64).to(dtype)
    upstream[-3] = 0.0  # at x = 0: a zero upstream gradient stays zero

    def through(fn):
        leaf = x.clone().requires_grad_()
        y = fn(leaf)
        (grad,) = torch.autograd.grad(y, leaf, upstream)
        return y.detach(), grad

    paths = [through(log1mexp), through(runtime._Log1mexp.apply),
             through(lambda t: runtime._Log1mexpMany.apply(t, t.detach())[0])]
    for y, grad in paths[1:]:
        assert torch.equal(y, paths[0][0]) and torch.equal(grad, paths[0][1])
    y, grad = paths[0]
    assert torch.isfinite(grad).all() and grad[-3].item() == 0.0
    want = torch.tensor([_closed_form(v) for v in x.double().tolist()], dtype=torch.float64)
    eps = torch.finfo(dtype).eps
    assert (y.double() - want)[want.isfinite()].abs().le(
        4 * eps * want[want.isfinite()].abs().clamp(min=1.0)).all()
    assert y[-3].item() == -math.inf


def test_log1mexp_of_several_tensors_is_a_tuple_of_the_single_ones():
    x = -torch.rand(9, dtype=torch.float64) * 5
    y = -torch.rand(9, dtype=torch.float64) * 5
    a, b = log1mexp(x, y)
    assert torch.equal(a, log1mexp(x)) and torch.equal(b, log1mexp(y))


def test_log1mexp_under_torch_func_leaves_the_c_entry_point(monkeypatch):
    """With functorch transforms active the C entry point is not used: the transformable
    Function is, and its gradient is d/dx log(1 - e^x) = -e^x / (1 - e^x)."""
    calls = []
    monkeypatch.setattr(runtime, "_apply_c", lambda x: calls.append(x) or x)
    x = -torch.rand(3, dtype=torch.float64) - 0.1
    g = torch.func.grad(lambda t: log1mexp(t).sum())(x)
    torch.testing.assert_close(g, -torch.exp(x) / (1 - torch.exp(x)), rtol=1e-14, atol=0.0)
    assert calls == []


@pytest.mark.parametrize("name", ["sigmoid", "simpo", "unCPO", "orpo"])
def test_the_plain_positional_call_is_inline(monkeypatch, name):
    """So that the equality tests above compare two paths, not one with itself."""
    def refuse(*args, **kwargs):
        raise AssertionError("went through nn.Module.__call__")

    module = logicpo.loss(name)
    xs, lengths = _inputs(4, 13)
    monkeypatch.setattr(runtime, "_module_call", refuse)
    module(*xs, *lengths)
    with pytest.raises(AssertionError, match="nn.Module.__call__"):
        module(*xs, *lengths[:1])  # one length given, the other not: forward explains
