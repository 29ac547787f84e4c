"""`logicpo export --for trl`: the file trains with TRL where logicpo cannot be imported, and
its steps are those of LogicpoDPOTrainer with the same loss inside logicpo."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from test_numbers_export import BLOCK_LOGICPO
from tiny_hf import model_dir, preference_rows, write_jsonl

from logicpo.cli import main
from logicpo.numbers.export import TARGETS

# Trains each exported file for 2 steps (argv: work dir, model dir, data file, out dir,
# DPOConfig JSON, then module:class pairs) and saves TRL's log history and final weights.
TRAIN = BLOCK_LOGICPO + textwrap.dedent('''
    import json
    import datasets, torch, transformers
    from trl import DPOConfig

    work, model_dir, data, out, config = sys.argv[1:6]
    rows = [json.loads(line) for line in open(data)]
    results = {}
    for item in sys.argv[6:]:
        module, cls = item.split(":")
        exported = importlib.import_module(module)
        tok = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
        args = DPOConfig(output_dir=f"{out}/{module}", **json.loads(config))
        trainer = exported.LogicpoDPOTrainer(
            model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
            processing_class=tok, loss=getattr(exported, cls)())
        trainer.train()
        torch.save(model.state_dict(), f"{out}/{module}.pt")
        results[module] = trainer.state.log_history
    assert not any(m == "logicpo" or m.startswith("logicpo.") for m in sys.modules)
    try:
        import logicpo  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("logicpo was importable")
    json.dump(results, open(f"{out}/history.json", "w"))
''')

CONFIG = dict(max_steps=2, per_device_train_batch_size=2, learning_rate=1e-3, bf16=False,
              report_to="none", logging_steps=1, save_strategy="no", use_cpu=True,
              gradient_checkpointing=False, disable_tqdm=True, seed=0)
COMPARED = ("loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margins",
            "rewards/accuracies", "logps/chosen", "logps/rejected")


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    rows = preference_rows(24)
    return model_dir(root / "model"), write_jsonl(rows, root / "prefs.jsonl"), rows


def _in_logicpo(directory: Path, rows, out: Path, spec: str):
    """The same 2 steps through logicpo's own LogicpoDPOTrainer with loss=spec."""
    import datasets
    import transformers
    from trl import DPOConfig

    from logicpo.integrations.trl import LogicpoDPOTrainer

    tok = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    trainer = LogicpoDPOTrainer(model=model, args=DPOConfig(output_dir=str(out), **CONFIG),
                                train_dataset=datasets.Dataset.from_list(rows),
                                processing_class=tok, loss=spec)
    trainer.train()
    return trainer.state.log_history, model.state_dict()


def test_exported_trl_file_trains_without_logicpo_like_logicpo(tmp_path, model_and_data):
    """sigmoid uses the (online, reloaded) reference; simpo is reference-free and
    length-normalised, which TRL's default loss_type would compute differently."""
    directory, data, rows = model_and_data
    work = tmp_path / "elsewhere"
    specs = {"dpo_export": ("sigmoid", "SigmoidLoss"), "simpo_export": ("simpo", "SimpoLoss")}
    runner = CliRunner()
    for module, (spec, cls) in specs.items():
        result = runner.invoke(main, ["export", spec, "--for", "trl", "-o",
                                      str(work / f"{module}.py"), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["class"] == cls
    proc = subprocess.run(
        [sys.executable, "-I", "-c", TRAIN, str(work), str(directory), str(data),
         str(tmp_path / "out"), json.dumps(CONFIG), *(f"{m}:{c}" for m, (_, c) in specs.items())],
        cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    import transformers

    initial = transformers.AutoModelForCausalLM.from_pretrained(directory).state_dict()
    for module, (spec, _) in specs.items():
        steps = [r for r in history[module] if "loss" in r]
        assert [r["step"] for r in steps] == [1, 2]
        expected, weights = _in_logicpo(directory, rows, tmp_path / f"in-{module}", spec)
        expected = [r for r in expected if "loss" in r]
        for got, want in zip(steps, expected, strict=True):
            for key in COMPARED:
                assert got[key] == pytest.approx(want[key], rel=1e-6, abs=1e-7), (module, key)
        trained = torch.load(tmp_path / "out" / f"{module}.pt")
        assert any(not torch.equal(trained[k], initial[k]) for k in initial)  # it trained
        for name, tensor in weights.items():
            torch.testing.assert_close(trained[name], tensor, rtol=1e-6, atol=1e-7)


def test_export_for_torchtune_refuses_a_loss_that_needs_token_counts(tmp_path):
    result = CliRunner().invoke(main, ["export", "simpo", "--for", "torchtune", "-o",
                                       str(tmp_path / "simpo.py")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "length-normalised" in text and "no token counts" in text
    assert "--for trl" in text and "--normalize none" in text
    assert not (tmp_path / "simpo.py").exists()


def test_export_for_torchtune_writes_the_component_line(tmp_path):
    out = tmp_path / "my_loss.py"
    result = CliRunner().invoke(main, ["export", "sigmoid", "--for", "torchtune", "-o", str(out),
                                       "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["component"] == "my_loss.SigmoidLoss"
    assert "_component_: my_loss.SigmoidLoss" in out.read_text()


def test_plain_export_has_no_trainer_and_the_cli_offers_every_target(tmp_path):
    out = tmp_path / "plain.py"
    assert CliRunner().invoke(main, ["export", "sigmoid", "-o", str(out)]).exit_code == 0
    assert "DPOTrainer" not in out.read_text()
    option = next(p for p in main.commands["export"].params if p.name == "target")
    assert tuple(option.type.choices) == TARGETS
