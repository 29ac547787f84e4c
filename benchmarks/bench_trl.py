"""Benchmark of LogicpoDPOTrainer against TRL's own DPOTrainer (CPU, or CUDA with --device cuda).

Reports, all measured in this run:
- training steps/s (forward + backward, online reference) of TRL's built-in ``loss_type``
  and of the same loss through ``LogicpoDPOTrainer``: same model, same batch, the two
  trainers timed in alternating runs (each run's rate from its median step time); the
  median of the per-run ratios logicpo/TRL is printed next to the goal (>= 0.97: plugging
  in a logicpo loss costs nothing measurable);
- optimiser steps/s of logicpo's built-in trainer and of TRL (LogicpoDPOTrainer) training
  the same Hugging Face model on the same preference file, batch size and reference mode
  (precomputed), in alternating runs, each timed between its own step events; the median
  ratio.

    .venv/bin/python benchmarks/bench_trl.py [--loss sigmoid] [--runs 9] [--steps 40] [--json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from datasets import Dataset  # noqa: E402
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers  # noqa: E402
from trl import DPOConfig, DPOTrainer  # noqa: E402

from logicpo.integrations.trl import LogicpoDPOTrainer  # noqa: E402
from logicpo.training.config import TrainConfig  # noqa: E402
from logicpo.training.loop import train  # noqa: E402
from logicpo.training.tasks import get_task  # noqa: E402

GOAL = 0.97


def char_tokenizer(texts):
    """One token per character, trained here; ``<eos>`` and ``<pad>`` are special."""
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(
        special_tokens=["<pad>", "<eos>", "<unk>"]))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>",
                                                pad_token="<pad>", unk_token="<unk>")


def tiny_llama(tok, seed=0):
    config = transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(config)


def config(out, device, **overrides):
    settings = dict(output_dir=str(out), bf16=False, report_to=[], save_strategy="no",
                    logging_steps=10**6, gradient_checkpointing=False, seed=0,
                    disable_tqdm=True, use_cpu=device == "cpu", learning_rate=1e-4)
    settings.update(overrides)
    return DPOConfig(**settings)


def step_times(trainer, inputs, steps: int) -> list[float]:
    """Seconds of each of ``steps`` forward + backward steps of ``trainer`` on one batch."""
    model = trainer.model
    model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train() otherwise
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        trainer.training_step(model, inputs)
        if inputs["input_ids"].is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    return times


def same_loss(loss: str, tok, data, out, device, runs: int, steps: int, batch: int) -> dict:
    policy, ref = tiny_llama(tok), tiny_llama(tok, seed=1)
    args = dict(per_device_train_batch_size=batch, max_steps=1)
    peer = DPOTrainer(model=copy.deepcopy(policy), ref_model=copy.deepcopy(ref),
                      args=config(out / "trl", device, loss_type=[loss], **args),
                      train_dataset=data, processing_class=tok)
    ours = LogicpoDPOTrainer(model=copy.deepcopy(policy), ref_model=copy.deepcopy(ref),
                             args=config(out / "ours", device, **args), train_dataset=data,
                             processing_class=tok, loss=loss)
    inputs = peer._prepare_inputs(next(iter(peer.get_train_dataloader())))
    step_times(peer, inputs, 3), step_times(ours, inputs, 3)  # warm-up
    times = {"trl": [], "logicpo": []}
    ratios = []
    for k in range(runs):  # alternate (and swap who goes first), so load drifts hit both alike
        order = ("trl", "logicpo") if k % 2 == 0 else ("logicpo", "trl")
        run = {name: step_times(peer if name == "trl" else ours, inputs, steps) for name in order}
        for name in order:
            times[name] += run[name]
        ratios.append(statistics.median(run["trl"]) / statistics.median(run["logicpo"]))
    rate = {name: 1 / statistics.median(t) for name, t in times.items()}
    return {"loss": loss, "batch": batch, "runs": runs, "steps_per_run": steps,
            "trl_steps_per_s": round(rate["trl"], 2),
            "logicpo_steps_per_s": round(rate["logicpo"], 2),
            "median_ratio": round(statistics.median(ratios), 3),
            "ratios": [round(r, 3) for r in ratios]}


class StepClock(transformers.TrainerCallback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter())


def median_interval(times: list[float]) -> float:
    return statistics.median(b - a for a, b in zip(times, times[1:], strict=False))


def builtin_vs_trl(loss: str, tok, out, device, steps: int, batch: int, runs: int) -> dict:
    """Both train the same saved model on the same file (AdamW, precomputed reference),
    in alternating runs; each run's rate is the median interval between its step events."""
    model_dir, data_file = out / "model", out / "pairs.jsonl"
    tiny_llama(tok).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    examples = get_task("sort").examples("train", 256, seed=0)
    data_file.write_text("".join(json.dumps({"prompt": e.prompt, "chosen": e.chosen,
                                             "rejected": e.rejected}) + "\n" for e in examples))
    data = Dataset.from_list([{"prompt": e.prompt, "chosen": e.chosen, "rejected": e.rejected}
                              for e in examples])

    def builtin(k: int) -> float:
        stamps: list[float] = []
        cfg = TrainConfig(data=str(data_file), val_fraction=0.05, model=str(model_dir),
                          loss=loss, steps=steps, batch_size=batch, lr=1e-4, warmup_steps=0,
                          sft_steps=0, eval_every=10**6, eval_generate=0, ckpt_every=10**6,
                          out=str(out / f"builtin{k}"), device=device,
                          threads=torch.get_num_threads())
        train(cfg, on_event=lambda kind, record: stamps.append(time.perf_counter())
              if kind == "step" else None)
        return 1 / median_interval(stamps)

    def through_trl(k: int) -> float:
        clock = StepClock()
        args = config(out / f"trl{k}", device, per_device_train_batch_size=batch,
                      max_steps=steps, precompute_ref_log_probs=True,
                      lr_scheduler_type="constant", max_grad_norm=1.0)
        trainer = LogicpoDPOTrainer(model=str(model_dir), args=args, train_dataset=data,
                                    processing_class=tok, loss=loss, callbacks=[clock])
        trainer.remove_callback(transformers.PrinterCallback)
        trainer.train()
        return 1 / median_interval(clock.times)

    rates = {"builtin": [], "trl": []}
    for k in range(runs):
        rates["builtin"].append(builtin(k))
        rates["trl"].append(through_trl(k))
    ratios = [a / b for a, b in zip(rates["builtin"], rates["trl"], strict=True)]
    return {"loss": loss, "batch": batch, "steps": steps, "runs": runs,
            "builtin_steps_per_s": round(statistics.median(rates["builtin"]), 2),
            "trl_steps_per_s": round(statistics.median(rates["trl"]), 2),
            "median_ratio": round(statistics.median(ratios), 2),
            "ratios": [round(r, 2) for r in ratios]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loss", default="sigmoid", help="a TRL loss_type the zoo also has")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()

    examples = get_task("sort").examples("train", 64, seed=0)
    texts = [e.prompt + e.chosen + e.rejected for e in examples]
    tok = char_tokenizer(texts)
    data = Dataset.from_list([{"prompt": e.prompt, "chosen": e.chosen, "rejected": e.rejected}
                              for e in examples])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        pair = same_loss(args.loss, tok, data, out, args.device, args.runs, args.steps,
                         args.batch)
        trainers_ = builtin_vs_trl(args.loss, tok, out, args.device, max(args.steps, 30),
                                   args.batch, max(3, args.runs // 2))
    report = {"device": args.device, "threads": args.threads, "model": "Llama 2x64",
              "same_loss": pair, "builtin_vs_trl": trainers_, "goal": GOAL}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"TRL loss_type={args.loss} vs LogicpoDPOTrainer(loss={args.loss!r}), {args.device}, "
          f"batch {args.batch}, {args.runs} alternating runs of {args.steps} steps:")
    print(f"  TRL {pair['trl_steps_per_s']} steps/s, logicpo {pair['logicpo_steps_per_s']} "
          f"steps/s; median ratio {pair['median_ratio']} (goal >= {GOAL}) "
          f"{'ok' if pair['median_ratio'] >= GOAL else 'BELOW GOAL'}")
    print(f"built-in trainer vs TRL (LogicpoDPOTrainer), same model and data, "
          f"{trainers_['runs']} alternating runs of {trainers_['steps']} steps of {args.batch} "
          f"pairs: {trainers_['builtin_steps_per_s']} vs {trainers_['trl_steps_per_s']} "
          f"steps/s, median ratio built-in/TRL {trainers_['median_ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
