"""CLI commands of the training area: ``data``, ``train``, ``plot-run`` (``sweep`` and
``search`` are in :mod:`logicpo.cli.experiment_cmds`).

torch is imported inside the commands, never at registration, so that ``logicpo check``
starts without it. The progress bar lives here; the loop only reports events.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import click

from logicpo.cli.common import console, emit_json, err_console, json_option, make_table
from logicpo.errors import UsageError

# Defaults mirror logicpo.training.config.TrainConfig (which imports no torch either);
# the options are generated from its fields so that --help documents every one.
_HELP = {
    "data": "A preference file: JSONL (one {prompt, chosen, rejected} object a line) or a JSON "
            "array; rows may add gold and sampled responses, or rank any number in "
            "'responses' (see docs/training.md#data).",
    "task": "A built-in task with a known reward instead of --data (see `logicpo data --list`).",
    "task_train": "Pairs generated for the task's training split.",
    "task_val": "Pairs generated for the task's validation split.",
    "task_responses": "Ranked responses per task row (2 to 8): rank 1 is yw, 2 yl, 3 yl2, ... "
                      "Without --task-gold, rank 1 is the answer and the rest near misses "
                      "by decreasing task reward.",
    "task_gold": "Add the answer as the gold response yg (for losses that read M(yg), such "
                 "as TPO); every ranked response is then a near miss.",
    "val_fraction": "With --data: the share of rows (from the end) held out for evaluation.",
    "loss": "The loss: a zoo name (sigmoid, CPO, simpo, ...), FILE.lpo:NAME, or an inline "
            "objective such as 'logistic(cCPO, normalize=length)'.",
    "model": "A built-in model size (nano, tiny, small) or a local Hugging Face model "
             "directory (needs logicpo[hf]; never downloads).",
    "block_size": "Context length of the built-in model, in tokens (bytes).",
    "steps": "Preference-optimisation steps (optimiser updates).",
    "batch_size": "Preference pairs per step, over all processes.",
    "grad_accum": "Micro-batches accumulated per step.",
    "lr": "Peak learning rate of the preference phase (AdamW).",
    "min_lr_ratio": "The cosine schedule ends at lr times this.",
    "warmup_steps": "Linear learning-rate warm-up steps.",
    "weight_decay": "AdamW weight decay.",
    "grad_clip": "Clip the gradient norm to this.",
    "sft_steps": "SFT warm-up steps on the chosen responses before preference training "
                 "(the warmed-up model becomes the reference); 0 to skip.",
    "sft_lr": "Learning rate of the SFT warm-up.",
    "sft_on": "SFT on the 'chosen' responses, or on 'both' (a reference that finds winner "
              "and loser alike plausible, as when it generated them).",
    "reference": "Reference log-probs: 'precompute' once before training, or 'online' per batch.",
    "sample_ys": "Where the response ys comes from for a loss that reads it (SELM's M(ys), "
                 "Ref(ys)) and a row without a 'sampled' one: 'off' refuses such rows; "
                 "'reference' draws one per training and validation prompt from the reference "
                 "after the SFT warm-up (temperature 1, up to the task's answer length, seeded "
                 "by --seed), records them in OUT/sampled.jsonl, and --resume reads them "
                 "back. Rows that carry 'sampled' keep theirs.",
    "eval_every": "Evaluate on the validation split every N steps (and at the end).",
    "eval_generate": "Validation prompts answered greedily to measure the task reward.",
    "ckpt_every": "Write OUT/ckpt.pt every N steps (and at the end, and on Ctrl-C).",
    "out": "Run directory: config.json, metrics.jsonl, ckpt.pt, summary.json. A directory "
           "that already holds a run is refused unless it is continued (train --resume) or "
           "replaced (--overwrite).",
    "seed": "Random seed (same seed, same metrics on CPU).",
    "device": "auto (CUDA when there is one), cpu or cuda.",
    "threads": "torch CPU threads (0: the physical cores not busy with other work, at "
               "least 1; see docs/training.md).",
    "resume": "Continue the run in --out from its checkpoint, with the loss recorded there "
              "(only --steps, --device and --threads may change).",
    "overwrite": "Replace what a previous run left in --out: its checkpoint, metrics, config "
                 "and summary (for a sweep also sweep.json, sweep.png) are deleted first, "
                 "and nothing else.",
}
_SKIP = {"loss_params"}
_CHOICES = {"device": ("auto", "cpu", "cuda"), "reference": ("precompute", "online"),
            "sft_on": ("chosen", "both"), "sample_ys": ("off", "reference")}
_METAVARS = {"data": "FILE", "task": "NAME", "loss": "SPEC", "model": "SIZE|DIR", "out": "DIR",
             "steps": "N", "seed": "S"}


def _config_fields():
    from logicpo.training.config import TrainConfig  # no torch in config.py

    return [f for f in dataclasses.fields(TrainConfig) if f.name not in _SKIP]


def train_options(f, exclude: tuple[str, ...] = ()):
    """Decorate a command with one option per TrainConfig field."""
    for fld in reversed(_config_fields()):
        if fld.name in exclude:
            continue
        flag = "--" + fld.name.replace("_", "-")
        if fld.type in ("bool", bool):
            opt = click.option(flag, fld.name, is_flag=True, help=_HELP.get(fld.name, ""))
        else:
            kind = {"int": int, "float": float}.get(str(fld.type), str)
            if fld.name in _CHOICES:
                kind = click.Choice(_CHOICES[fld.name])
            opt = click.option(flag, fld.name, type=kind, default=fld.default,
                               show_default=fld.default is not None,
                               metavar=_METAVARS.get(fld.name),
                               help=_HELP.get(fld.name, ""))
        f = opt(f)
    f = click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
                     help="A loss parameter, e.g. --param beta=0.1 (repeatable).")(f)
    f = click.option("--no-progress", is_flag=True, help="No progress bar.")(f)
    f = click.option("--verbose", "-v", is_flag=True, help="Log the loss source and details.")(f)
    return f


def _parse_params(params: tuple[str, ...]) -> dict:
    out = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, not {p!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _build_config(ctx: click.Context, kw: dict):
    """TrainConfig from the options; with --resume, the stored config plus what was typed."""
    from logicpo.training.config import TrainConfig

    fields = {f.name for f in _config_fields()}
    values = {k: v for k, v in kw.items() if k in fields}
    if kw.get("params"):
        values["loss_params"] = _parse_params(kw["params"])
    if not values.get("resume"):
        return TrainConfig(**values)
    TrainConfig.check_out_mode(True, values.get("overwrite", False))
    from logicpo.training.loop import resume_config
    from logicpo.training.run_dir import check_same_loss, stored_run

    typed = {k: v for k, v in values.items()
             if k == "loss_params" or ctx.get_parameter_source(k)
             == click.core.ParameterSource.COMMANDLINE}
    typed["resume"] = True
    cfg = resume_config(values["out"]).replace(**typed)
    stored = stored_run(values["out"])
    if "loss" in typed and typed["loss"].strip() == stored["loss_spec"]:
        # the same spec typed again: it must still mean the recorded loss
        check_same_loss(stored, cfg.loss, cfg.loss_params, str(Path(values["out"])))
    return cfg


def _is_main_process() -> bool:
    from logicpo.training.distributed import is_main_process  # torch: only when training

    return is_main_process()


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    level = logging.INFO if verbose else logging.WARNING
    handler = RichHandler(console=err_console, show_time=False, show_path=False)
    root = logging.getLogger("logicpo")
    root.handlers[:] = [handler]
    root.setLevel(level if _is_main_process() else logging.ERROR)


class _Progress:
    """One rich progress bar over SFT and preference steps, fed by the loop's events."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and _is_main_process()
        self.bar = None
        self.task = None
        self.last_eval: dict = {}

    def __enter__(self):
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeRemainingColumn(),
                                TextColumn("{task.fields[stats]}"), console=err_console,
                                transient=False)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, kind: str, rec: dict) -> None:
        if self.bar is None:
            return
        if kind == "run":
            self.bar.console.print(f"[bold]{rec['loss']}[/] -> {rec['out']}")
        elif kind == "start":
            total = rec["sft_steps"] + rec["steps"] - rec["start_step"]
            if self.task is not None:
                self.bar.remove_task(self.task)
            self.task = self.bar.add_task(f"{rec['loss'][:28]}", total=total, stats="")
        elif kind == "sft":
            self.bar.update(self.task, advance=1,
                            stats=f"SFT {rec['sft_step']} nll {rec['sft_loss']:.3f}")
        elif kind == "step":
            ev = ""
            if "eval_task_reward" in self.last_eval:
                ev = f" task {self.last_eval['eval_task_reward']:.2f}"
            self.bar.update(self.task, advance=1, stats=(
                f"loss {rec['loss']:.4f} acc {rec['rewards/accuracies']:.2f}{ev}"))
        elif kind == "eval":
            self.last_eval = rec


def _fmt(v, signed: bool = False) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:+.3f}" if signed else f"{v:.3f}"
    return str(v)


def _summary_table(summary: dict):
    from logicpo.training.loop import SUMMARY_KEYS

    first, final = summary["first_eval"], summary["final_eval"]
    rows = [[k, _fmt(first.get(k)), _fmt(final.get(k)),
             _fmt(final[k] - first[k], signed=True) if k in first and k in final else "-"]
            for k in (*SUMMARY_KEYS, "eval_exact_match") if k in final]
    return make_table(f"{summary['loss']}: step {first.get('step', 0)} -> {final.get('step')} "
                      f"({summary['steps_per_second']:.1f} steps/s, "
                      f"{summary['tokens_per_second']:.0f} tokens/s)",
                      ["metric", "start", "end", "change"], rows)


def _time_line(summary: dict) -> str:
    """``time 52.1 s: setup 3.2, SFT 40.1, ...``: where the run's seconds went."""
    names = {"sft": "SFT", "checkpoint": "checkpoints"}
    parts = [f"{names.get(k, k)} {v:.1f}" for k, v in summary.get("phases", {}).items()]
    return f"time {summary['seconds']:.1f} s: " + ", ".join(parts)


def _labelled(part: str) -> tuple[str, str]:
    """``label=SPEC`` (an '=' outside parentheses) or just ``SPEC``, labelled by itself."""
    depth = 0
    for i, ch in enumerate(part):
        depth += (ch == "(") - (ch == ")")
        if ch == "=" and depth == 0:
            return part[:i].strip(), part[i + 1:].strip()
    return part, part


def _split_losses(text: str) -> list[str]:
    """Split on commas outside parentheses: 'CPO,logistic(cCPO, normalize=length)'."""
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _responses_held(rows) -> dict[str, int]:
    """How many rows hold each response, in atom order."""
    from logicpo.logic.atoms import response_key

    counts: dict[str, int] = {}
    for ex in rows:
        for r in ex.responses:
            counts[r] = counts.get(r, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: response_key(kv[0])))


def register(group: click.Group) -> None:
    """Add this area's commands to the main group."""

    @group.command("data")
    @click.argument("task", required=False)
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write the split as JSONL here ('-' for standard output).")
    @click.option("--split", type=click.Choice(["train", "val"]), default="train",
                  show_default=True, help="Which split of the task to export.")
    @click.option("-n", "--n", "count", type=int, default=None,
                  help="Number of pairs (default: 512 for train, 64 for val).")
    @click.option("--val", "n_val", type=int, default=64, show_default=True,
                  help="Size of the validation split (the train split never overlaps it).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
    @click.option("--responses", "responses", type=int, default=2, show_default=True,
                  help="Ranked responses per row (2 to 8). 2 writes chosen and rejected; more "
                       "writes a ranked 'responses' list (rank 1 best).")
    @click.option("--gold", is_flag=True,
                  help="Add the answer as a 'gold' response; the ranked ones are then all "
                       "near misses.")
    @click.option("--list", "list_tasks", is_flag=True, help="List the built-in tasks.")
    @click.option("--check", "check_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="Validate a preference file (JSONL or JSON array) instead.")
    @json_option
    def data_cmd(task, output, split, count, n_val, seed, responses, gold, list_tasks, check_file,
                 as_json):
        """Export a built-in task's preference pairs as JSONL, list tasks, or check a file.

        \b
        Example: logicpo data sort -o sort.jsonl --split train -n 512 --seed 0
        Ranked:  logicpo data sort -o ranked.jsonl --responses 4 --gold
        """
        from logicpo.training.data import load_preferences, save_preferences
        from logicpo.training.tasks import TASKS, get_task, task_responses

        if list_tasks:
            if as_json:
                emit_json([{"name": t.name, "description": t.description}
                           for t in TASKS.values()])
            else:
                console.print(make_table("built-in tasks", ["task", "what"],
                                         [[t.name, t.description] for t in TASKS.values()]))
            return
        if check_file is not None:
            rows = load_preferences(check_file)
            have = _responses_held(rows)
            info = {"file": str(check_file), "rows": len(rows), "responses": have}
            more = [f"{r} in {'every row' if n == len(rows) else f'{n} rows'}"
                    for r, n in have.items() if r not in ("yw", "yl")]
            emit_json(info) if as_json else console.print(
                f"{check_file}: {len(rows)} rows, ok" + (f" (besides yw and yl: "
                                                         f"{', '.join(more)})" if more else ""))
            return
        if task is None or output is None:
            raise UsageError("give a TASK and -o FILE (or --list, or --check FILE)")
        n = count if count is not None else (512 if split == "train" else n_val)
        examples = get_task(task).examples(split, n, seed, n_val=n_val, responses=responses,
                                           gold=gold)
        if str(output) == "-":
            for ex in examples:
                click.echo(json.dumps(ex.to_row()))
            return
        written = save_preferences(examples, output)
        info = {"task": task, "split": split, "rows": written, "seed": seed, "file": str(output)}
        if (responses, gold) != (2, False):
            info["responses"] = list(task_responses(responses, gold))
        emit_json(info) if as_json else console.print(
            f"wrote {written} {split} pairs of task {task!r} (seed {seed}) to {output}")

    @group.command("train")
    @train_options
    @click.option("--trainer", type=click.Choice(["builtin", "trl"]), default="builtin",
                  show_default=True,
                  help="builtin: logicpo's own loop. trl: TRL's DPOTrainer with the same loss "
                       "(LogicpoDPOTrainer; needs logicpo[trl], --data FILE and a local model "
                       "--model DIR; no SFT warm-up, so --sft-steps defaults to 0). Launch with "
                       "`accelerate launch -m logicpo train --trainer trl ...` for several "
                       "devices. See docs/integrations.md.")
    @click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="Also draw the run's curves to this PNG at the end.")
    @json_option
    @click.pass_context
    def train_cmd(ctx, as_json, plot_path, no_progress, verbose, trainer, **kw):
        """Train a policy with any logicpo loss (SFT warm-up, then preference optimisation).

        \b
        logicpo train --task sort --loss sigmoid --steps 200 --out runs/dpo
        logicpo train --data prefs.jsonl --loss my.lpo:mine --steps 500 --out runs/mine
        logicpo train --out runs/dpo --resume --steps 400
        torchrun --nproc_per_node=2 -m logicpo train --task sort --loss CPO --out runs/ddp
        logicpo train --trainer trl --model DIR --data prefs.jsonl --loss simpo --out runs/t
        """
        if trainer == "trl":
            os.environ.setdefault("TQDM_DISABLE", "1")  # TRL's and datasets' bars: ours only
            from logicpo.integrations.trl_run import not_honoured
            from logicpo.integrations.trl_run import train_with_trl as train

            if kw.get("resume"):  # before _build_config, which reads a built-in checkpoint
                raise not_honoured("resume", True)
            if kw.get("sample_ys", "off") != "off":
                raise UsageError(f"--trainer trl cannot honour --sample-ys {kw['sample_ys']}: "
                                 "TRL trains losses over the winner and the loser only, and "
                                 "draws no response", hint="use the built-in trainer")
            if ctx.get_parameter_source("sft_steps") != click.core.ParameterSource.COMMANDLINE:
                kw["sft_steps"] = 0  # TRL has no SFT warm-up; a typed --sft-steps N is refused
        cfg = _build_config(ctx, kw)
        _setup_logging(verbose)
        if trainer != "trl":
            from logicpo.training.loop import train

        with _Progress(not (no_progress or as_json)) as progress:
            result = train(cfg, progress)
        if not _is_main_process():
            return
        summary = result.to_json()
        if plot_path is not None:
            from logicpo.plots.runs import plot_runs

            summary["plot"] = str(plot_runs([cfg.out], plot_path, labels=[cfg.loss]))
        if as_json:
            emit_json(summary)
            return
        console.print(_summary_table(summary))
        console.print(_time_line(summary))
        console.print(f"metrics: {Path(cfg.out) / 'metrics.jsonl'}  checkpoint: "
                      f"{summary.get('checkpoint', Path(cfg.out) / 'ckpt.pt')}"
                      + (f"  plot: {summary['plot']}" if plot_path else ""))

    @group.command("plot-run")
    @click.argument("runs", nargs=-1, required=True,
                    type=click.Path(exists=True, path_type=Path))
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                  default=Path("run.png"), show_default=True, help="The PNG to write.")
    @click.option("--label", "labels", multiple=True,
                  help="A legend label per run, in order (default: the run's loss).")
    @click.option("--title", default=None, help="A title above the panels.")
    @json_option
    def plot_run_cmd(runs, output, labels, title, as_json):
        """Draw loss, margins, winner and loser log-probs and task reward of runs, overlaid.

        Example: logicpo plot-run runs/dpo runs/cpo -o compare.png
        """
        from logicpo.plots.runs import plot_runs

        path = plot_runs(list(runs), output, labels=list(labels) or None, title=title)
        emit_json({"plot": str(path), "runs": [str(r) for r in runs]}) if as_json else \
            console.print(f"wrote {path}")
