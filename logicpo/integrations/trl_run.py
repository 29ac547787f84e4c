"""``logicpo train --trainer trl``: a :class:`TrainConfig` run through TRL's ``DPOTrainer``.

The run uses :class:`~logicpo.integrations.trl.LogicpoDPOTrainer`, so ``accelerate launch
-m logicpo train --trainer trl ...`` trains on whatever accelerate sets up (DDP, DeepSpeed,
FSDP). It writes what the built-in trainer writes, with the same names: ``OUT/metrics.jsonl``
(through the built-in trainer's own writer), ``config.json`` and ``summary.json``; TRL's
checkpoints go to ``OUT/checkpoint-N``.

What maps onto ``DPOConfig``: ``steps`` (``max_steps``), ``batch_size`` (over all processes,
split into ``per_device_train_batch_size`` x processes x ``grad_accum``), ``grad_accum``,
``lr``, ``warmup_steps``, ``min_lr_ratio`` (``cosine_with_min_lr``; transformers' warm-up
starts at 0 where the built-in one starts at ``lr/(warmup+1)``), ``weight_decay``,
``grad_clip`` (``max_grad_norm``), AdamW's betas (0.9, 0.95) as in the built-in trainer,
``seed``, ``reference`` (``precompute_ref_log_probs``), ``eval_every`` (``eval_steps``; with
``eval_on_start``, transformers evaluates at step 0 and at the last step, as the built-in
trainer does), ``ckpt_every``
(``save_steps``), ``out``, ``device`` and ``threads``. Settings with no TRL equivalent
(:data:`NOT_HONOURED`) are a :class:`UsageError` when they differ from their defaults.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path

import torch

from logicpo.errors import UsageError
from logicpo.files import write_atomic
from logicpo.training import run_dir
from logicpo.training.config import TrainConfig
from logicpo.training.data import load_preferences, split_examples
from logicpo.training.loop import (
    EVAL_BATCH,
    METRICS_NAME,
    STAT_NAMES,
    SUMMARY_NAME,
    TrainResult,
    _MetricsFile,
)
from logicpo.training.model import is_local_model_dir

try:
    import datasets
    import transformers
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import DPOConfig
except ImportError as exc:  # pragma: no cover - the trl extra is installed in CI
    raise UsageError(f"--trainer trl needs TRL ({exc})",
                     hint="pip install 'logicpo[trl]'") from None

#: What TRL's Trainer writes into a run directory besides logicpo's run files: its
#: checkpoints, which --overwrite removes with the rest (a stale checkpoint-N would look
#: like this run's) and whose presence alone makes the directory a run's.
TRL_RUN_FILES = ("checkpoint-*",)

# TrainConfig fields TRL cannot honour, and why; each must keep its default
NOT_HONOURED = {
    "task": "the built-in tasks and their task reward run with the built-in trainer; "
            "export the pairs with `logicpo data TASK -o FILE` and pass --data FILE",
    "block_size": "it sets the context of the built-in model; a Hugging Face model keeps "
                  "its own (max_position_embeddings)",
    "sft_steps": "TRL's DPOTrainer has no SFT warm-up: the model in --model is the starting "
                 "policy and the reference; warm it up beforehand (e.g. with TRL's SFTTrainer) "
                 "and leave --sft-steps at 0",
    "resume": "resume a TRL run with TRL itself (OUT/checkpoint-N); `logicpo train --resume` "
              "reads the built-in trainer's checkpoint",
}


def not_honoured(name: str, value) -> UsageError:
    """The error for a setting of :data:`NOT_HONOURED` given a value other than its default."""
    flag = "--" + name.replace("_", "-")
    shown = "" if value is True else f" {value!r}"
    return UsageError(f"--trainer trl cannot honour {flag}{shown}: {NOT_HONOURED[name]}")


def check_config(cfg: TrainConfig) -> None:
    """Raise :class:`UsageError` for what ``--trainer trl`` cannot run exactly as asked.

    >>> check_config(TrainConfig(data="prefs.jsonl", model="tiny", sft_steps=0))
    Traceback (most recent call last):
      ...
    logicpo.errors.UsageError: --trainer trl trains a Hugging Face model: --model must be a local model directory (with config.json), not 'tiny'
    """
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    defaults["sft_steps"] = 0
    for name in NOT_HONOURED:
        if getattr(cfg, name) != defaults[name]:
            raise not_honoured(name, getattr(cfg, name))
    if not is_local_model_dir(cfg.model):
        raise UsageError("--trainer trl trains a Hugging Face model: --model must be a local "
                         f"model directory (with config.json), not {cfg.model!r}")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda, but torch sees no CUDA device")


def train_with_trl(cfg: TrainConfig, on_event=None) -> TrainResult:
    """Train as ``cfg`` says, with TRL; the summary, as :func:`logicpo.training.loop.train`.

    Only the main process writes files.
    """
    emit = on_event or (lambda kind, record: None)
    cfg.validate()
    check_config(cfg)
    cfg = run_dir.absolute_paths(cfg)
    # the run directory's rules are the built-in trainer's: never replace a run silently
    run_dir.check_out(cfg.out, resume=False, overwrite=cfg.overwrite, resumable=False,
                      extra=TRL_RUN_FILES)
    from logicpo.integrations.trl import LogicpoDPOTrainer, loss_module

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_record, compiled = run_dir.resolve_loss(cfg.loss, cfg.loss_params)  # refuses no-gradient
    loss = loss_module(compiled)
    train_set, val_set = split_examples(load_preferences(cfg.data), cfg.val_fraction)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_device, rest = divmod(cfg.batch_size, world * cfg.grad_accum)
    if rest or per_device < 1:
        raise UsageError(f"batch-size {cfg.batch_size} does not split into {world} processes x "
                         f"{cfg.grad_accum} accumulation steps")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(cfg.model, local_files_only=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(cfg.model,
                                                                  local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load a causal LM and its tokenizer from {cfg.model}: "
                         f"{exc}") from None
    cuda = cfg.device != "cpu" and torch.cuda.is_available()
    args = DPOConfig(
        output_dir=cfg.out, max_steps=cfg.steps, per_device_train_batch_size=per_device,
        per_device_eval_batch_size=EVAL_BATCH, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, warmup_steps=cfg.warmup_steps,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": cfg.min_lr_ratio}, weight_decay=cfg.weight_decay,
        adam_beta1=0.9, adam_beta2=0.95, max_grad_norm=cfg.grad_clip, seed=cfg.seed,
        precompute_ref_log_probs=cfg.reference == "precompute" and loss.uses_reference,
        eval_strategy="steps", eval_steps=cfg.eval_every, eval_on_start=True,
        save_strategy="steps", save_steps=cfg.ckpt_every, logging_steps=1,
        max_length=getattr(model.config, "max_position_embeddings", None),
        bf16=cuda, use_cpu=not cuda, gradient_checkpointing=False, report_to="none",
        disable_tqdm=True)
    recorder = _Recorder(emit)
    trainer = LogicpoDPOTrainer(  # refuses what it cannot run, before any file is written
        model=model, args=args, train_dataset=_dataset(train_set),
        eval_dataset=_dataset(val_set), processing_class=tokenizer, loss=loss,
        callbacks=[recorder])
    for noisy in (PrinterCallback, ProgressCallback):  # the CLI owns the terminal
        trainer.remove_callback(noisy)
    out = Path(cfg.out)
    main = args.process_index == 0
    with run_dir.RunLock(out) if main else contextlib.nullcontext():
        if main:
            run_dir.check_out(out, resume=False, overwrite=cfg.overwrite, resumable=False,
                              extra=TRL_RUN_FILES)
            if cfg.overwrite:  # TRL's checkpoints too: a stale checkpoint-N would outlive it
                run_dir.clear_run(out, extra=TRL_RUN_FILES)
            write_atomic(out / run_dir.CONFIG_NAME, json.dumps(
                {"config": cfg.identity(), **run_record, "trainer": "trl"}, indent=2) + "\n")
        return _run(cfg, trainer, recorder, loss, out, main, world, args, emit,
                    len(train_set), len(val_set))


def _run(cfg, trainer, recorder, loss, out, main, world, args, emit, n_train, n_val):
    """Train under the run directory's lock and write the metrics and the summary."""
    metrics = recorder.metrics = _MetricsFile(out / METRICS_NAME, main, keep_until=None)
    emit("start", {"steps": cfg.steps, "sft_steps": 0, "start_step": 0, "world_size": world,
                   "device": str(args.device), "model": {"kind": "hf", "path": cfg.model},
                   "loss": cfg.loss, "uses_reference": loss.uses_reference,
                   "train_pairs": n_train, "val_pairs": n_val, "trainer": "trl"})
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    result = TrainResult(
        out=str(out), steps=trainer.state.global_step, first_eval=metrics.first_eval() or {},
        final_eval=metrics.last_eval(), seconds=seconds,
        steps_per_second=trainer.state.global_step / seconds if seconds else 0.0,
        tokens_per_second=recorder.tokens / seconds if seconds else 0.0,
        loss_source=loss.source,
        extra={"loss": cfg.loss, "task": None, "data": cfg.data, "seed": cfg.seed,
               "world_size": world, "device": str(args.device), "trainer": "trl",
               "checkpoint": str(out / f"checkpoint-{trainer.state.global_step}")})
    if main:
        write_atomic(out / SUMMARY_NAME, json.dumps(result.to_json(), indent=2) + "\n")
    emit("done", result.to_json())
    return result


def _dataset(examples):
    return datasets.Dataset.from_list([ex.to_json() for ex in examples])


class _Recorder(TrainerCallback):
    """TRL's logs as the built-in trainer's records: the same names, one line per step."""

    def __init__(self, emit) -> None:
        self.metrics: _MetricsFile | None = None  # set once the run may write files
        self.emit, self.tokens = emit, 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "eval_loss" in logs:
            record = {"step": state.global_step,
                      **{f"eval_{k}": logs[f"eval_{k}"] for k in STAT_NAMES}}
            kind = "eval"
        elif "loss" in logs and "grad_norm" in logs:
            record = {"step": state.global_step, **{k: logs[k] for k in STAT_NAMES},
                      "learning_rate": logs["learning_rate"], "grad_norm": logs["grad_norm"]}
            self.tokens = logs.get("num_tokens", self.tokens)
            kind = "step"
        else:  # the end-of-training summary: summary.json has it
            return
        self.metrics.write(record)
        self.emit(kind, record)
