"""``train(cfg)``: SFT warm-up, then preference optimisation with any logicpo loss.

Reads top to bottom like nanoGPT's ``train.py``: set up, warm up, freeze the reference,
then per step: learning rate, eval and checkpoint, forward and backward, clip, step, log.
Metrics use TRL's names and go to ``OUT/metrics.jsonl`` (one JSON object a line); the
caller gets every record through ``on_event`` (the CLI draws its progress bar from it).

A classic loss gets TRL's four log-probs, positionally, as it always did. A loss over more
responses (issue 13) gets ``logps={atom: (B,)}`` and ``lengths={response: (B,)}`` for
exactly the atoms it reads (:mod:`~logicpo.training.scoring`): one forward pass of the
policy over every response of its ``M`` atoms, one of the reference over those of its
``Ref`` atoms, and nothing for the responses it does not read.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

import logicpo
from logicpo.errors import LogicpoError, UsageError
from logicpo.files import read_text, write_atomic
from logicpo.logic import atoms
from logicpo.training import distributed, run_dir
from logicpo.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from logicpo.training.config import TrainConfig, default_threads
from logicpo.training.data import load_preferences, require_responses, split_examples
from logicpo.training.logprobs import (
    collate,
    collate_responses,
    encode_pairs,
    encode_responses,
    greedy_generate,
    sequence_logprobs,
)
from logicpo.training.model import load_policy
from logicpo.training.run_dir import CONFIG_NAME, METRICS_NAME, SAMPLES_NAME, SUMMARY_NAME
from logicpo.training.sampling import (
    SAMPLED,
    draw_samples,
    encoded_sample,
    read_samples,
    write_samples,
)
from logicpo.training.scoring import POLICY, REFERENCE, Scoring, scoring_of
from logicpo.training.tasks import get_task, task_responses

log = logging.getLogger(__name__)

EVAL_BATCH = 64
#: The phases of a run, in order, as ``summary.json`` reports their seconds.
PHASES = ("setup", "sft", "reference", "preference", "eval", "checkpoint")
# The numbers compared between runs: what the policy learned and where its mass went.
SUMMARY_KEYS = ("eval_task_reward", "eval_rewards/accuracies", "eval_rewards/margins",
                "eval_logps/chosen", "eval_logps/rejected", "eval_loss")

Event = Callable[[str, dict], None]


class TrainingDiverged(LogicpoError):
    """The loss became NaN or infinite; the run stopped without saving over the checkpoint."""


@dataclass
class TrainResult:
    """What a finished run reports (also written to ``OUT/summary.json``)."""

    out: str
    steps: int
    first_eval: dict
    final_eval: dict
    seconds: float                 # the whole command, set-up to summary
    steps_per_second: float        # preference steps over the seconds spent taking them
    tokens_per_second: float
    loss_source: str
    phases: dict = field(default_factory=dict)   # seconds per entry of PHASES
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        delta = {f"delta_{k[len('eval_'):]}": self.final_eval[k] - self.first_eval[k]
                 for k in ("eval_logps/chosen", "eval_logps/rejected")
                 if k in self.final_eval and k in self.first_eval}
        return {"out": self.out, "steps": self.steps, "seconds": round(self.seconds, 3),
                "phases": {k: round(v, 3) for k, v in self.phases.items()},
                "steps_per_second": self.steps_per_second,
                "tokens_per_second": self.tokens_per_second, "loss_source": self.loss_source,
                "first_eval": self.first_eval, "final_eval": self.final_eval, **delta,
                **self.extra}


def resume_config(out: str | Path) -> TrainConfig:
    """The configuration the run in ``out`` recorded (in its checkpoint, or in its
    ``config.json`` when it was interrupted before the first checkpoint)."""
    return TrainConfig.from_dict(run_dir.stored_run(out)["config"])


def train(cfg: TrainConfig, on_event: Event | None = None) -> TrainResult:
    """Train a policy as ``cfg`` says; return the summary. Only rank 0 writes files.

    >>> import tempfile
    >>> cfg = TrainConfig(task="sort", task_train=16, task_val=4, model="nano", loss="CPO",
    ...                   steps=2, batch_size=4, sft_steps=2, eval_every=2, eval_generate=2,
    ...                   out=tempfile.mkdtemp())
    >>> result = train(cfg)
    >>> result.steps, "eval_task_reward" in result.final_eval
    (2, True)
    """
    emit = on_event or (lambda kind, record: None)
    clock = _Clock()
    cfg.validate()
    cfg = run_dir.absolute_paths(cfg)
    run_dir.check_out(cfg.out, resume=cfg.resume, overwrite=cfg.overwrite)
    ctx = distributed.setup(cfg.device)
    try:
        with run_dir.RunLock(cfg.out) if ctx.is_main else contextlib.nullcontext():
            return _train(cfg, ctx, emit, clock)
    finally:
        distributed.teardown(ctx)


def _train(cfg: TrainConfig, ctx: distributed.Context, emit: Event,
           clock: _Clock) -> TrainResult:
    # -------- set-up: everything that can fail on the user's input fails before any write
    torch.set_num_threads(cfg.threads or default_threads())
    out = Path(cfg.out)
    ckpt_path = out / CHECKPOINT_NAME
    stored = _check_resume(cfg, out) if cfg.resume else None
    state = stored if stored is not None and "step" in stored else None
    if stored is not None and state is None:
        log.warning("%s has no checkpoint yet (the run was interrupted before its first one, "
                    "during the SFT warm-up): it starts over from the warm-up, with the "
                    "recorded configuration and loss", out)
    task = get_task(cfg.task) if cfg.task else None
    train_set, val_set = _load_examples(cfg, task)
    data_sha = run_dir.data_digest(cfg.data) if cfg.data is not None else None
    if stored is not None and stored.get("data_sha256") != data_sha:
        raise run_dir.ResumeMismatch(
            f"the preference file {cfg.data} changed since the run started (its SHA-256 "
            "differs from the recorded one); resuming would train on other data",
            hint="restore the file, or start a new run in another --out")
    if stored is not None:
        loss_fn = run_dir.rebuild_loss(stored, str(ckpt_path if state else out / CONFIG_NAME))
        run_record = {k: stored[k] for k in ("version", "loss_spec", "loss_source",
                                             "loss_program", "loss_code_sha256")}
    else:
        run_record, loss_fn = run_dir.resolve_loss(cfg.loss, cfg.loss_params)
    run_record["data_sha256"] = data_sha
    # which (model, response) log-probs the loss reads; every row must have those responses
    scoring = scoring_of(loss_fn, cfg.loss)
    _require_responses(cfg, train_set + val_set, scoring)
    # rows without the response ys the loss reads get one from the reference (SELM), drawn
    # after the warm-up, or read back from the run directory when a run is resumed
    splits = {"train": train_set, "val": val_set}
    to_draw = _rows_to_sample(cfg, scoring, splits)
    drawn = _recorded_samples(out, splits, to_draw, resumed_from=state) if cfg.resume else None
    loss_fn = loss_fn.to(ctx.device)
    _seed_everything(cfg.seed)
    policy, tokenizer = load_policy(cfg.model, cfg.block_size)
    policy.to(ctx.device)
    block = getattr(policy, "block_size", cfg.block_size)
    train_pairs = encode_pairs(train_set, tokenizer, block)
    val_pairs = encode_pairs(val_set, tokenizer, block)
    encoded, lengths_of = {}, {}
    if not scoring.classic:  # the responses the loss reads (ys once drawn), and their counts
        now = tuple(r for r in scoring.responses if not (to_draw and r == SAMPLED))
        encoded = {split: encode_responses(examples, tokenizer, block, now)
                   for split, examples in splits.items()}
        lengths_of = {split: {r: torch.tensor([float(len(e[r][1])) for e in rows],
                                              device=ctx.device) for r in now}
                      for split, rows in encoded.items()}
    stat_names = _stat_names(scoring)
    micro = _micro_batch(cfg, ctx)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if ctx.device.type == "cuda"
                else contextlib.nullcontext())
    model = policy  # what forward/backward go through; DDP averages gradients over processes
    if ctx.distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            policy, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    # -------- the run directory: a previous run's files go only with --overwrite; the
    # configuration and the resolved loss are recorded before the warm-up, so that even an
    # interrupted warm-up can be resumed
    if ctx.is_main:
        if not cfg.resume:  # again, now under the lock: another run may have ended here
            run_dir.check_out(out, resume=False, overwrite=cfg.overwrite)
        if cfg.overwrite:
            run_dir.clear_run(out)
        write_atomic(out / CONFIG_NAME, json.dumps({"config": cfg.identity(), **run_record},
                                                   indent=2) + "\n")
    metrics = _MetricsFile(out / METRICS_NAME, ctx.is_main,
                           keep_until=state["step"] if state else None)
    emit("start", {"steps": cfg.steps, "sft_steps": 0 if state else cfg.sft_steps,
                   "start_step": state["step"] if state else 0, "world_size": ctx.world_size,
                   "device": str(ctx.device), "model": policy.describe(),
                   "loss": cfg.loss, "uses_reference": scoring.uses_reference,
                   "train_pairs": len(train_pairs), "val_pairs": len(val_pairs)})
    log.info("loss %s:\n%s", cfg.loss, loss_fn.source)
    log.info("scored: the policy on %s; the reference on %s", ", ".join(scoring.policy),
             ", ".join(scoring.reference) or "nothing")

    def logps_of(net, indices, pairs, rejected=True):
        """Log-prob sums and token counts of the chosen and rejected responses, and the
        number of (non-padding) tokens that went through the model."""
        ids, mask = collate(pairs, indices, tokenizer.pad_id, rejected)
        with autocast:
            logps, counts = sequence_logprobs(net, ids.to(ctx.device), mask.to(ctx.device))
        n = len(indices)
        return logps[:n], logps[n:], counts[:n], counts[n:], int((ids != tokenizer.pad_id).sum())

    def scored(net, indices, split, responses):
        """Log-prob sums of the named responses of the examples at ``indices`` (one forward
        pass for all of them), and the number of tokens that went through the model."""
        ids, mask = collate_responses(encoded[split], indices, responses, tokenizer.pad_id)
        with autocast:
            logps, _ = sequence_logprobs(net, ids.to(ctx.device), mask.to(ctx.device))
        n = len(indices)
        return ({r: logps[k * n:(k + 1) * n] for k, r in enumerate(responses)},
                int((ids != tokenizer.pad_id).sum()))

    clock.end("setup")
    # -------- SFT warm-up on the chosen (or all) responses, so the reference knows the task
    if state is None and cfg.sft_steps:
        sft_opt = torch.optim.AdamW(policy.parameters(), lr=cfg.sft_lr, weight_decay=0.0)
        sft_gen = torch.Generator().manual_seed(cfg.seed + 1)
        for sft_step in range(1, cfg.sft_steps + 1):
            indices = torch.randint(len(train_pairs), (cfg.batch_size,), generator=sft_gen)
            mine = indices[ctx.rank * micro * cfg.grad_accum:][: micro * cfg.grad_accum]
            # the mean over all SFT tokens of the whole batch, however it is split over
            # micro-batches and processes (DDP averages the gradients, hence the world size)
            both = cfg.sft_on == "both"
            n_tokens = sum(len(train_pairs[i].chosen) + both * len(train_pairs[i].rejected)
                           for i in indices.tolist()) / ctx.world_size
            total = torch.zeros((), device=ctx.device)
            for k in range(cfg.grad_accum):
                part = mine[k * micro:(k + 1) * micro].tolist()
                pc, pr, *_ = logps_of(model, part, train_pairs, rejected=both)
                nll = -(pc.sum() + pr.sum()) / n_tokens
                nll.backward()
                total += nll.detach()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
            sft_opt.step()
            sft_opt.zero_grad(set_to_none=True)
            sft_loss = distributed.mean_over_ranks(total, ctx).item()
            if not math.isfinite(sft_loss):
                raise TrainingDiverged(f"the SFT warm-up loss is {sft_loss} at SFT step "
                                       f"{sft_step}; nothing was saved")
            record = {"sft_step": sft_step, "sft_loss": sft_loss}
            metrics.write(record)
            emit("sft", record)
    clock.end("sft")

    # -------- the frozen reference model (a copy of the warmed-up policy)
    reference = None
    if scoring.uses_reference or (to_draw and drawn is None):
        reference = copy.deepcopy(policy)
        if state is not None:
            reference.load_state_dict(state["reference"])
        reference.eval().requires_grad_(False)

    # -------- ys sampled from the reference, recorded before any reference log-prob
    if to_draw:
        if drawn is None:
            if ctx.is_main:
                max_new = task.max_new_tokens if task is not None else block
                drawn = {split: dict(zip(rows, draw_samples(
                    reference, tokenizer, [splits[split][i].prompt for i in rows], max_new,
                    block, ctx.device, seed_key=f"{cfg.seed}:{split}"), strict=True))
                    for split, rows in to_draw.items()}
                write_samples(out / SAMPLES_NAME, {split: ([ex.prompt for ex in splits[split]],
                                                           got) for split, got in drawn.items()})
            distributed.barrier(ctx)
            if not ctx.is_main:  # every process trains on the samples the main one drew
                drawn = _recorded_samples(out, splits, to_draw, resumed_from=None)
        for split, got in drawn.items():  # a drawn ys is scored as drawn; a row's own as text
            rows = splits[split]
            own = [i for i in range(len(rows)) if i not in got]
            texts = dict(zip(own, encode_responses([rows[i] for i in own], tokenizer, block,
                                                   (SAMPLED,)), strict=True))
            for i, row in enumerate(encoded[split]):
                row[SAMPLED] = (texts[i][SAMPLED] if i in texts else
                                encoded_sample(tokenizer, rows[i].prompt, block, got[i]))
            lengths_of[split][SAMPLED] = torch.tensor(
                [float(len(row[SAMPLED][1])) for row in encoded[split]], device=ctx.device)
        cut = sum(not s.ended for got in drawn.values() for s in got.values())
        counts = {split: len(got) for split, got in drawn.items()}
        log.info("%s drawn from the reference: %s (%d cut at the length limit)", SAMPLED,
                 ", ".join(f"{n} {split}" for split, n in counts.items()), cut)
        emit("sampled", {**counts, "cut": cut, "path": str(out / SAMPLES_NAME)})
        if not scoring.uses_reference:  # the loss reads no Ref atom: the reference is done
            reference = None

    @torch.no_grad()
    def reference_logps(pairs):
        rc, rr = [], []
        for start in range(0, len(pairs), EVAL_BATCH):
            c, r, *_ = logps_of(reference, list(range(start, min(start + EVAL_BATCH,
                                                                   len(pairs)))), pairs)
            rc.append(c.float())
            rr.append(r.float())
        return torch.cat(rc), torch.cat(rr)

    @torch.no_grad()
    def reference_scores(split, indices):
        """The reference's log-probs of the responses of its atoms, by atom."""
        got, _ = scored(reference, indices, split, scoring.reference)
        return {atoms.name(REFERENCE, r): t.float() for r, t in got.items()}

    precomputed = {}
    if reference is not None and cfg.reference == "precompute":
        if scoring.classic:
            precomputed = {"train": reference_logps(train_pairs),
                           "val": reference_logps(val_pairs)}
        else:
            for split, rows in encoded.items():
                parts = [reference_scores(split, list(range(i, min(i + EVAL_BATCH, len(rows)))))
                         for i in range(0, len(rows), EVAL_BATCH)]
                precomputed[split] = {a: torch.cat([p[a] for p in parts]) for a in parts[0]}
    clock.end("reference")

    def loss_of(net, indices, pairs, split):
        """Per-example loss output, the policy log-probs its metrics report (those of
        ``stat_names``) and the tokens scored, for the examples at ``indices``."""
        if not scoring.classic:
            return multi_loss_of(net, indices, split)
        pc, pr, nc, nr, tokens = logps_of(net, indices, pairs)
        rc = rr = None
        if reference is not None:
            if precomputed:
                rc, rr = (t[indices] for t in precomputed[split])
            else:
                with torch.no_grad():
                    rc, rr, *_ = logps_of(reference, indices, pairs)
        out = loss_fn(pc.float(), pr.float(), rc, rr, chosen_lengths=nc, rejected_lengths=nr)
        return out, (pc.detach(), pr.detach()), tokens

    def multi_loss_of(net, indices, split):
        """``loss_of`` for a loss over any atoms: each response it reads, scored once by
        each model whose atom it reads."""
        got, tokens = scored(net, indices, split, scoring.policy)
        logps = {atoms.name(POLICY, r): t.float() for r, t in got.items()}
        if reference is not None:
            logps.update({a: t[indices] for a, t in precomputed[split].items()}
                         if precomputed else reference_scores(split, indices))
        lengths = {r: t[indices] for r, t in lengths_of[split].items()}
        out = loss_fn(logps=logps, lengths=lengths)
        return out, tuple(got[r].detach() for r in scoring.policy), tokens

    # -------- optimiser and schedule (linear warm-up, then cosine to min_lr)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr,
                                  weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    sampler = torch.Generator().manual_seed(cfg.seed)
    step = 0
    if state is not None:
        policy.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.set_state(state["rng"]["sampler"])
        _restore_rng(state["rng"])
        step = state["step"]
        log.info("resumed %s at step %d", out, step)

    def lr_at(it: int) -> float:
        if it < cfg.warmup_steps:
            return cfg.lr * (it + 1) / (cfg.warmup_steps + 1)
        progress = (it - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)

    @torch.no_grad()
    def evaluate() -> dict:
        policy.eval()
        sums, n = torch.zeros(len(stat_names), device=ctx.device), 0
        for start in range(0, len(val_pairs), EVAL_BATCH):
            idx = list(range(start, min(start + EVAL_BATCH, len(val_pairs))))
            out_, logps, _ = loss_of(policy, idx, val_pairs, "val")
            sums += _stats(out_, logps) * len(idx)
            n += len(idx)
        record = {"step": step, **{f"eval_{k}": v for k, v in
                                   zip(stat_names, (sums / n).tolist(), strict=True)}}
        if task is not None and cfg.eval_generate:
            prompts = [ex.prompt for ex in val_set[: cfg.eval_generate]]
            answers = greedy_generate(policy, tokenizer, prompts, task.max_new_tokens,
                                      ctx.device)
            rewards = [task.reward(p, a) for p, a in zip(prompts, answers, strict=True)]
            record["eval_task_reward"] = sum(rewards) / len(rewards)
            record["eval_exact_match"] = sum(r == 1.0 for r in rewards) / len(rewards)
        policy.train()
        return record

    def checkpoint(at_step: int, sampler_state: torch.Tensor) -> None:
        if not ctx.is_main:
            return
        with clock.phase("checkpoint"):
            save_checkpoint(ckpt_path, {
                **run_record, "version": logicpo.__version__, "step": at_step,
                "config": cfg.identity(),
                "model": policy.state_dict(), "optimizer": optimizer.state_dict(),
                "reference": reference.state_dict() if reference is not None else None,
                "scheduler": {"kind": "warmup-cosine", "step": at_step, "lr": lr_at(at_step)},
                "rng": {"sampler": sampler_state, **_rng_state()},
            })
        emit("checkpoint", {"step": at_step, "path": str(ckpt_path)})

    def last_good() -> str:
        saved = load_checkpoint(ckpt_path)["step"] if ckpt_path.is_file() else None
        return (f"the last good checkpoint is {ckpt_path} (step {saved})" if saved is not None
                else "no checkpoint was written")

    # -------- the training loop
    first_eval = metrics.first_eval()
    start_step, tokens_seen = step, 0
    sampler_state = sampler.get_state()
    policy.train()
    try:
        while True:
            # learning rate of this step
            lr = lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            # evaluate and checkpoint (the state after `step` updates)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                if not metrics.has_eval(step):
                    with clock.phase("eval"):
                        record = evaluate()
                    first_eval = first_eval or record
                    metrics.write(record)
                    emit("eval", record)
            if step > start_step and (step % cfg.ckpt_every == 0 or step == cfg.steps):
                checkpoint(step, sampler_state)
            if state is None and step == 0:
                checkpoint(0, sampler_state)  # the warmed-up start, with its reference
            if step >= cfg.steps:
                break
            # forward and backward over this process's share of the batch
            indices = torch.randint(len(train_pairs), (cfg.batch_size,), generator=sampler)
            mine = indices[ctx.rank * micro * cfg.grad_accum:][: micro * cfg.grad_accum]
            sums = torch.zeros(len(stat_names), device=ctx.device)
            for k in range(cfg.grad_accum):
                part = mine[k * micro:(k + 1) * micro].tolist()
                sync = (model.no_sync() if ctx.distributed and k < cfg.grad_accum - 1
                        else contextlib.nullcontext())
                with sync:
                    out_, logps, tokens = loss_of(model, part, train_pairs, "train")
                    (out_.losses.mean() / cfg.grad_accum).backward()
                sums += _stats(out_, logps) / cfg.grad_accum
                tokens_seen += tokens
            stats = distributed.mean_over_ranks(sums, ctx)
            if not bool(torch.isfinite(stats[0])):
                raise TrainingDiverged(
                    f"the loss is {stats[0].item()} at step {step + 1} ({cfg.loss}); the run "
                    f"stopped without updating the model, and {last_good()}",
                    hint="lower --lr, or check the loss for terms that can overflow")
            # clip and step
            grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            sampler_state = sampler.get_state()  # what a checkpoint of `step` must restore
            # log
            record = {"step": step, **dict(zip(stat_names, stats.tolist(), strict=True)),
                      "learning_rate": lr, "grad_norm": float(grad_norm)}
            metrics.write(record)
            emit("step", record)
    except KeyboardInterrupt:
        checkpoint(step, sampler_state)
        log.warning("interrupted at step %d; checkpoint saved to %s", step, ckpt_path)
        raise
    # the loop's time, less its evaluations and checkpoints, is the preference phase
    clock.end("preference", less=("eval", "checkpoint"))

    done, seconds = step - start_step, clock.seconds["preference"]
    result = TrainResult(
        out=str(out), steps=step, first_eval=first_eval or {}, final_eval=metrics.last_eval(),
        seconds=clock.total(), steps_per_second=done / seconds if seconds else 0.0,
        tokens_per_second=tokens_seen * ctx.world_size / seconds if seconds else 0.0,
        loss_source=loss_fn.source, phases=clock.phases(),
        extra={"loss": cfg.loss, "task": cfg.task, "data": cfg.data, "seed": cfg.seed,
               "world_size": ctx.world_size, "device": str(ctx.device),
               "resumed_from": start_step if cfg.resume else None,
               **({"sampled_ys": {split: len(got) for split, got in drawn.items()}}
                  if to_draw else {})})
    if ctx.is_main:
        write_atomic(out / SUMMARY_NAME, json.dumps(result.to_json(), indent=2) + "\n")
    emit("done", result.to_json())
    return result


# ------------------------------------------------------------ helpers
STAT_NAMES = ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
              "rewards/accuracies", "logps/chosen", "logps/rejected")


def _stat_names(scoring: Scoring) -> tuple[str, ...]:
    """The metrics of a step: ``STAT_NAMES`` for a classic loss; for another, the loss and
    rewards, then the policy log-prob of each response it reads (``logps/chosen`` for
    ``yw``, ``logps/rejected`` for ``yl``, ``logps/yg``, ...)."""
    if scoring.classic:
        return STAT_NAMES
    named = {"yw": "logps/chosen", "yl": "logps/rejected"}
    return (*STAT_NAMES[:5], *(named.get(r, f"logps/{r}") for r in scoring.policy))


def _stats(out, logps: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Batch means of TRL's metrics, in the order of ``_stat_names``: a tensor ``(5 + L,)``
    for ``L`` log-prob tensors (``(7,)`` for a classic loss: ``pc`` and ``pr``)."""
    chosen, rejected = out.chosen_rewards.float(), out.rejected_rewards.float()
    return torch.stack([out.losses.detach().float().mean(), chosen.mean(), rejected.mean(),
                        (chosen - rejected).mean(), (chosen > rejected).float().mean(),
                        *(lp.float().mean() for lp in logps)])


def _load_examples(cfg: TrainConfig, task):
    if task is not None:
        shape = {"responses": cfg.task_responses, "gold": cfg.task_gold}
        return (task.examples("train", cfg.task_train, cfg.seed, n_val=cfg.task_val, **shape),
                task.examples("val", cfg.task_val, cfg.seed, **shape))
    return split_examples(load_preferences(cfg.data), cfg.val_fraction)


def _require_responses(cfg: TrainConfig, examples, scoring: Scoring) -> None:
    """Refuse, before anything is written, rows that lack a response the loss reads (``ys``
    too, unless ``--sample-ys`` draws it)."""
    if scoring.classic:
        return  # every row has a winner and a loser
    needed = scoring.readers()
    sampled = {SAMPLED: needed.pop(SAMPLED)} if SAMPLED in needed else {}
    origin, file = (f"task {cfg.task!r}", None) if cfg.task is not None else (cfg.data, cfg.data)
    hint = None
    if cfg.task is not None:
        have = task_responses(cfg.task_responses, cfg.task_gold)
        hint = (f"task {cfg.task!r} rows have {', '.join(have)} as asked; --task-responses K "
                "ranks K responses (yw, yl, yl2, ...), --task-gold adds yg")
    require_responses(examples, needed, origin, file=file, hint=hint)
    if sampled and cfg.sample_ys == "off":
        require_responses(examples, sampled, origin, file=file, hint=(
            f"--sample-ys reference draws {SAMPLED} from the reference model after the SFT "
            "warm-up, for every row without one (as SELM does)"))


def _rows_to_sample(cfg: TrainConfig, scoring: Scoring, splits: dict) -> dict[str, list[int]]:
    """The rows of each split that get ``ys`` from the reference: none unless
    ``--sample-ys reference`` and the loss reads ``ys``; then those that lack one."""
    if cfg.sample_ys != "reference" or SAMPLED not in scoring.responses:
        return {}
    rows = {split: [i for i, ex in enumerate(examples) if SAMPLED not in ex.responses]
            for split, examples in splits.items()}
    return rows if any(rows.values()) else {}


def _recorded_samples(out: Path, splits: dict, to_draw: dict[str, list[int]],
                      resumed_from: dict | None):
    """The samples a run recorded, if it needs some and drew them (None: draw them). A run
    resumed from a checkpoint must have them: it never draws again."""
    path = out / SAMPLES_NAME
    if not to_draw:
        return None
    if not path.is_file():
        if resumed_from is not None:
            raise run_dir.ResumeMismatch(
                f"the run in {out} has a checkpoint but no {SAMPLES_NAME}, the {SAMPLED} "
                "responses it drew from the reference; drawing them again would change "
                "what it trains on", hint="start the run anew (--overwrite)")
        return None
    return read_samples(path, {split: ([ex.prompt for ex in splits[split]], rows)
                               for split, rows in to_draw.items()})


def _micro_batch(cfg: TrainConfig, ctx: distributed.Context) -> int:
    per_rank, rest = divmod(cfg.batch_size, ctx.world_size * cfg.grad_accum)
    if rest or per_rank < 1:
        raise UsageError(f"batch-size {cfg.batch_size} does not split into {ctx.world_size} "
                         f"processes x {cfg.grad_accum} accumulation steps")
    return per_rank


def _check_resume(cfg: TrainConfig, out: Path) -> dict:
    """What the run in ``out`` recorded, if ``cfg`` may continue it."""
    state = run_dir.stored_run(out)
    stored = TrainConfig.from_dict(state["config"])
    clash = [f"{k}: {getattr(cfg, k)!r} here, {getattr(stored, k)!r} in the checkpoint"
             for k in cfg.to_dict() if k not in TrainConfig.RESUMABLE
             and getattr(cfg, k) != getattr(stored, k)]
    if clash:
        raise UsageError("--resume continues the stored run, whose settings differ: "
                         + "; ".join(clash), hint="change only --steps, --device or --threads")
    if state.get("step", 0) > cfg.steps:
        raise UsageError(f"the checkpoint is at step {state['step']}, beyond --steps {cfg.steps}")
    return state


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class _Clock:
    """Wall-clock seconds of a run's phases (``PHASES``), from the moment ``train`` starts."""

    def __init__(self) -> None:
        self.start = self.mark = time.perf_counter()
        self.seconds = dict.fromkeys(PHASES, 0.0)

    def end(self, name: str, less: tuple[str, ...] = ()) -> None:
        """Phase ``name`` ran from the last mark until now, except for the ``less`` phases
        timed inside it."""
        now = time.perf_counter()
        self.seconds[name] += now - self.mark - sum(self.seconds[k] for k in less)
        self.mark = now

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t

    def total(self) -> float:
        return time.perf_counter() - self.start

    def phases(self) -> dict:
        return dict(self.seconds)


class _MetricsFile:
    """``metrics.jsonl``: appended line by line; on resume, cut back to the checkpoint."""

    def __init__(self, path: Path, writable: bool, keep_until: int | None) -> None:
        self.path, self.writable = path, writable
        self.records: list[dict] = []
        if keep_until is not None and path.is_file():
            for line in read_text(path, "metrics file").splitlines():
                rec = json.loads(line)
                if rec.get("step", -1) <= keep_until:
                    self.records.append(rec)
            if writable:
                write_atomic(path, "".join(json.dumps(r) + "\n" for r in self.records))
        elif writable:
            write_atomic(path, "")

    def write(self, record: dict) -> None:
        self.records.append(record)
        if self.writable:
            with self.path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")

    def has_eval(self, step: int) -> bool:
        return any(r.get("step") == step and "eval_loss" in r for r in self.records)

    def first_eval(self) -> dict | None:
        return next((r for r in self.records if "eval_loss" in r), None)

    def last_eval(self) -> dict:
        return next((r for r in reversed(self.records) if "eval_loss" in r), {})
