"""``logicpo.loss(spec, compile=True)``: torch.compile gives the eager numbers, or a clear error."""

from __future__ import annotations

import pytest
import torch

import logicpo
from logicpo.errors import LogicpoError
from logicpo.numbers.api import TorchCompileError


@pytest.mark.parametrize("name", ["ORPO", "unCPO", "fUnl"])
def test_compiled_module_gives_the_eager_losses_and_gradients(name):
    """Small losses (compiling takes seconds on CPU): ORPO reads the custom log1mexp
    Function, so the graph has it and the softplus; unCPO and fUnl read the fused nodes,
    which compile as their unfused forms; batch sizes vary (dynamic)."""
    eager = logicpo.loss(name)
    fast = logicpo.loss(name, compile=True)
    assert fast.spec == name and not fast.uses_reference
    for batch in (5, 37):
        g = torch.Generator().manual_seed(batch)
        xs = [-(torch.rand(batch, generator=g) * 4 + 1e-3) for _ in range(2)]
        a = [x.clone().requires_grad_() for x in xs]
        b = [x.clone().requires_grad_() for x in xs]
        out_e, out_c = eager(*a), fast(*b)
        torch.testing.assert_close(out_c.losses, out_e.losses, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(out_c.chosen_rewards, out_e.chosen_rewards)
        out_e.losses.sum().backward()
        out_c.losses.sum().backward()
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(y.grad, x.grad, rtol=1e-5, atol=1e-6)


def test_missing_torch_compile_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setattr(torch, "compile", None)
    with pytest.raises(TorchCompileError, match="has no torch.compile") as info:
        logicpo.loss("CPO", compile=True)
    assert isinstance(info.value, LogicpoError) and "drop compile=True" in info.value.hint


def test_a_failing_torch_compile_is_reported(monkeypatch):
    def broken(module, **kwargs):
        def call(*args):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nmore")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(TorchCompileError, match=r"failed on loss 'CPO': RuntimeError: "
                                                r"InvalidCxxCompiler: No working C\+\+ "
                                                r"compiler found$") as info:
        logicpo.loss("CPO", compile=True)
    assert isinstance(info.value.__cause__, RuntimeError)
