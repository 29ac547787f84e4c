"""Exported loss files: standalone (torch only) and numerically identical to logicpo.loss."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import logicpo
from logicpo.errors import UsageError
from logicpo.numbers.export import export_source, function_name

# Runs in a fresh interpreter: isolated mode (-I: no cwd, no PYTHON* variables), a
# finder that refuses logicpo whatever is installed, then the exported file.
BLOCK_LOGICPO = textwrap.dedent('''
    import importlib.abc, importlib.util, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "logicpo" or name.startswith("logicpo."):
                raise ImportError("logicpo is not importable here")
            return None

    sys.meta_path.insert(0, Refuse())
    sys.path.insert(0, sys.argv[1])
''')
RUNNER = BLOCK_LOGICPO + textwrap.dedent('''
    import torch
    import {module} as exported
    try:
        import logicpo  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("logicpo was importable")
    assert not any(m == "logicpo" or m.startswith("logicpo.") for m in sys.modules)
    inputs = torch.load(sys.argv[2])
    out = exported.{function}(*inputs)
    torch.save(out, sys.argv[3])
    try:
        exported.{function}(inputs[0], inputs[1][:1], *inputs[2:])
    except ValueError as exc:
        print("error:", exc)
''')


def _inputs():
    g = torch.Generator().manual_seed(3)
    xs = [-(torch.rand(16, generator=g, dtype=torch.float64) * 4 + 0.01) for _ in range(4)]
    lengths = [torch.randint(1, 9, (16,), generator=g).to(torch.float64) for _ in range(2)]
    return xs + lengths


@pytest.mark.parametrize("spec,params", [("sigmoid", {"beta": 0.1}),
                                         ("orpo_full", {}),
                                         ("unCPO", {}),
                                         ("0.8*sigmoid + 0.2*bco_pair + 1.0*sft", {"beta": 0.3})])
def test_export_round_trip_without_logicpo(tmp_path: Path, spec, params):
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "my_loss.py").write_text(export_source(spec, params, name="my_loss"),
                                     encoding="utf-8")
    inputs = _inputs()
    torch.save(inputs, work / "inputs.pt")
    script = RUNNER.format(module="my_loss", function="my_loss")
    proc = subprocess.run(
        [sys.executable, "-I", "-c", script, str(work), str(work / "inputs.pt"),
         str(work / "out.pt")],
        cwd=work, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "error:" in proc.stdout and "has shape (1,)" in proc.stdout
    losses, chosen, rejected = torch.load(work / "out.pt")
    expected = logicpo.loss(spec, **params)(*inputs)
    assert torch.equal(losses, expected.losses)
    assert torch.equal(chosen, expected.chosen_rewards)
    assert torch.equal(rejected, expected.rejected_rewards)


def test_exported_docstring_states_structure_closed_form_and_source():
    text = export_source("simpo", {"beta": 2.0}, name="simpo_loss")
    head = text.split('"""', 2)[1]
    assert "logistic(CPO, beta=2, gamma=0.5, normalize=length)" in head
    assert "structure CPO: core M(yl) -> M(yw)" in head
    assert "rho = log WMC(ok) - log WMC(bad) = pc_n - pr_n" in head
    assert "loss = -log sigmoid(2 * rho - 0.5)" in head
    assert "def simpo_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps" \
        in text
    compile(text, "simpo_loss.py", "exec")


def test_function_name():
    assert function_name("out/my_loss.py") == "my_loss"
    assert function_name("out/x.py", "dpo") == "dpo"
    with pytest.raises(UsageError, match="not a Python identifier"):
        function_name("my-loss.py")
