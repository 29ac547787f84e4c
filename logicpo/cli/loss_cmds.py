"""Commands about compiled losses: compile, eval, plot, export (and docs, which writes docs/zoo.md).

torch and the compiler are imported inside the commands, so ``logicpo check``
never pays for them.
"""

from __future__ import annotations

import math
from pathlib import Path

import click
from rich.markup import escape

from logicpo.cli.common import (
    LOG_PROB,
    POSITIVE,
    TOKEN_COUNT,
    console,
    emit_json,
    file_option,
    json_option,
    make_table,
    stdout_is_tty,
)
from logicpo.errors import UsageError
from logicpo.files import read_text, write_atomic

# the targets of `export --for` (logicpo.numbers.export.TARGETS, which imports torch)
EXPORT_TARGETS = ("trl", "torchtune")


def register(group: click.Group) -> None:
    """Add this area's commands to the main group."""
    for command in (compile_cmd, eval_cmd, plot, export, docs):
        group.add_command(command)


def loss_options(f):
    """The hyper-parameters of ``logicpo.loss`` as options."""
    options = [
        click.option("--beta", type=float, help="Temperature beta (TRL default 0.1; the "
                     "paper's loss for a bare structure: 1)."),
        click.option("--gamma", type=float, help="Margin gamma: s = beta*rho - gamma."),
        click.option("--label-smoothing", type=float, help="Label smoothing epsilon."),
        click.option("--tau", type=float, help="DiscoPOP temperature tau."),
        click.option("--normalize", type=click.Choice(["length", "none"]),
                     help="Divide log-probs by token counts (length) or not (none)."),
        click.option("--family", "family", metavar="F",
                     help="Outer function f for a bare structure name (logistic, hinge, "
                          "square, robust, exo, sigmoid, discopop)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _params(beta, gamma, label_smoothing, tau, normalize, family) -> dict:
    values = {"beta": beta, "gamma": gamma, "label_smoothing": label_smoothing, "tau": tau,
              "normalize": normalize, "f": family}
    return {k: v for k, v in values.items() if v is not None}


def _compile(spec: str, files, params: dict):
    from logicpo.cli.logic_cmds import print_diagnostics
    from logicpo.numbers.api import compile_spec

    compiled = compile_spec(spec, params, files)  # also reads "path/to/file.lpo:name"
    print_diagnostics(compiled.diagnostics)  # e.g. a user name that shadows the zoo's
    return compiled


# ---------------------------------------------------------------- compile


def _facts(compiled) -> dict:
    """What ``compile --json`` and ``export --json`` say about a compiled loss (one shape):
    its DSL source, class, whether it reads the reference and the lengths, whether the TRL
    positional call works (``classic``), the atoms and responses ``logps=`` is keyed by, and
    whether every count has a factorised form (no sum over all worlds at run time)."""
    return {"source": compiled.source, "class": compiled.generated.class_name,
            "uses_reference": compiled.uses_reference, "needs_lengths": compiled.needs_lengths,
            "classic": compiled.classic, "atoms": list(compiled.atoms),
            "responses": list(compiled.responses), "factorised": compiled.factorised}


@click.command("compile")
@click.argument("spec")
@loss_options
@file_option
@json_option
def compile_cmd(spec, beta, gamma, label_smoothing, tau, normalize, family, files, as_json):
    """Print the PyTorch code generated for SPEC.

    SPEC is a zoo name (sigmoid, simpo, DPO, ...), file.lpo:name, or an inline
    objective such as "0.8*sigmoid + 0.2*bco_pair" or "hinge(CPO)".
    """
    compiled = _compile(spec, files, _params(beta, gamma, label_smoothing, tau, normalize,
                                             family))
    if as_json:
        emit_json({"spec": spec, **_facts(compiled), "params": compiled.params,
                   "code": compiled.generated.code})
        return
    if not stdout_is_tty():  # piped: the exact code, no colours, no cropping
        click.echo(compiled.generated.code, nl=False)
        return
    from rich.syntax import Syntax

    console.print(Syntax(compiled.generated.code, "python", theme="ansi_dark",
                         word_wrap=True, background_color="default"))


# ---------------------------------------------------------------- eval


@click.command("eval")
@click.argument("spec")
@click.option("--pc", type=LOG_PROB, required=True,
              help="Policy log-prob of the chosen response (finite, <= 0).")
@click.option("--pr", type=LOG_PROB, required=True,
              help="Policy log-prob of the rejected response (finite, <= 0).")
@click.option("--rc", type=LOG_PROB, help="Reference log-prob of the chosen response.")
@click.option("--rr", type=LOG_PROB, help="Reference log-prob of the rejected response.")
@click.option("--nc", type=TOKEN_COUNT, help="Token count of the chosen response (>= 1).")
@click.option("--nr", type=TOKEN_COUNT, help="Token count of the rejected response (>= 1).")
@click.option("--logp", "more_logps", multiple=True, metavar="ATOM=VALUE",
              help="The log-prob of another atom, for a loss beyond pairs: --logp 'M(yg)=-20' "
                   "(repeat it; --pc, --pr, --rc, --rr give the classic four).")
@click.option("--length", "more_lengths", multiple=True, metavar="RESPONSE=N",
              help="The token count of another response: --length yg=12 (repeatable).")
@loss_options
@file_option
@json_option
def eval_cmd(spec, pc, pr, rc, rr, nc, nr, more_logps, more_lengths, beta, gamma,
             label_smoothing, tau, normalize, family, files, as_json):
    """The loss SPEC at one example, its gradient with respect to each input, and the
    brute-force (world-enumerating) value as a check."""
    import torch

    from logicpo.numbers import brute
    from logicpo.numbers.api import instantiate

    compiled = _compile(spec, files, _params(beta, gamma, label_smoothing, tau, normalize,
                                             family))
    module = instantiate(compiled)
    if more_logps or more_lengths or not module.classic:
        _eval_named(spec, compiled, module, (pc, pr, rc, rr), (nc, nr), more_logps,
                    more_lengths, as_json)
        return
    missing = [f"--{k}" for k, v in (("rc", rc), ("rr", rr)) if v is None]
    if compiled.uses_reference and missing:
        raise UsageError(f"'{spec}' uses the reference model: pass {' and '.join(missing)}")
    missing = [f"--{k}" for k, v in (("nc", nc), ("nr", nr)) if v is None]
    if compiled.needs_lengths and missing:
        raise UsageError(f"'{spec}' is length-normalised: pass {' and '.join(missing)} "
                         "(token counts)")
    given = {"pc": pc, "pr": pr, "rc": rc, "rr": rr}
    tensors = {k: None if v is None else torch.tensor([v], dtype=torch.float64,
                                                     requires_grad=True)
               for k, v in given.items()}
    lengths = [None if v is None else torch.tensor([v], dtype=torch.float64) for v in (nc, nr)]
    out = module(tensors["pc"], tensors["pr"], tensors["rc"], tensors["rr"], *lengths)
    used = {k: t for k, t in tensors.items()
            if t is not None and (k in ("pc", "pr") or compiled.uses_reference)}
    grads = torch.autograd.grad(out.losses.sum(), list(used.values()), allow_unused=True)
    gradient = {k: (0.0 if g is None else g.item()) for k, g in zip(used, grads, strict=True)}
    reference = brute.evaluate(list(compiled.terms), *(tensors[k] for k in ("pc", "pr", "rc",
                                                                           "rr")), *lengths)
    result = {"spec": spec, "source": compiled.source, "loss": out.losses.item(),
              "brute_force": reference.item(), "inputs": {k: given[k] for k in used},
              "gradient": gradient, "chosen_reward": out.chosen_rewards.item(),
              "rejected_reward": out.rejected_rewards.item()}
    _report_eval(spec, compiled, result, ["input", "value", "d loss / d input"], as_json)


def _report_eval(spec, compiled, result: dict, columns: list[str], as_json: bool) -> None:
    """``eval``'s one output: refused when a number is not finite, else the JSON or the
    loss, a table of each input with its gradient, and the rewards."""
    gradient = result["gradient"]
    numbers = {"loss": result["loss"], "brute force": result["brute_force"],
               **{f"d loss / d {k}": g for k, g in gradient.items()}}
    bad = [f"{k} {v:g}" for k, v in numbers.items() if not math.isfinite(v)]
    if bad:  # inputs at the edge of the domain (a log-prob of 0, huge values) overflow
        raise UsageError(f"at these inputs '{spec}' gives numbers that are not finite: "
                         f"{', '.join(bad)}",
                         hint="move the log-probs away from 0 and from huge values")
    if as_json:
        emit_json(result)
        return
    console.print(f"[bold]{escape(spec)}[/] = {escape(compiled.source)}")
    console.print(f"loss {result['loss']:.10g}   (brute force over worlds: "
                  f"{result['brute_force']:.10g})")
    rows = [[k, f"{v:g}", f"{gradient[k]:.10g}"] for k, v in result["inputs"].items()]
    console.print(make_table(None, columns, rows))
    console.print(f"rewards: chosen {result['chosen_reward']:.6g}, "
                  f"rejected {result['rejected_reward']:.6g}")


def _bindings(items, what: str, parse) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.rpartition("=")
        if not sep or not key.strip():
            raise UsageError(f"--{what} {item!r}: write KEY=VALUE, e.g. --logp 'M(yg)=-20' or "
                             "--length yg=12")
        out[key.strip()] = parse(value, key.strip())
    return out


def _eval_named(spec, compiled, module, classic, counts, more_logps, more_lengths,
                as_json) -> None:
    """``eval`` of a loss beyond pairs: every atom's log-prob by name (``--pc`` .. ``--rr``
    for the classic four, ``--logp ATOM=VALUE`` for the others), gradients for each."""
    import torch

    from logicpo.logic.atoms import CLASSIC_LENGTH, CLASSIC_LOGP
    from logicpo.numbers import brute

    def logp(text, key):
        value = LOG_PROB.convert(text, None, None)
        return value

    def count(text, key):
        return TOKEN_COUNT.convert(text, None, None)

    values = {a: v for a, v in zip(CLASSIC_LOGP, classic, strict=True) if v is not None}
    values.update(_bindings(more_logps, "logp", logp))
    lengths = {r: v for r, v in zip(CLASSIC_LENGTH, counts, strict=True) if v is not None}
    lengths.update(_bindings(more_lengths, "length", count))
    missing = [a for a in module.atoms if a not in values]
    if missing:
        flags = [f"--{CLASSIC_LOGP[a]}" if a in CLASSIC_LOGP else f"--logp '{a}=VALUE'"
                 for a in missing]
        raise UsageError(f"'{spec}' reads the atoms {', '.join(module.atoms)}: pass "
                         f"{' '.join(flags)}")
    unknown = [a for a in values if a not in module.atoms]
    if unknown:
        raise UsageError(f"'{spec}' does not read {', '.join(unknown)} (it reads "
                         f"{', '.join(module.atoms)})")
    absent = [r for r in module.lengths_required if r not in lengths]
    if absent:
        raise UsageError(f"'{spec}' is length-normalised: pass the token counts of "
                         f"{', '.join(absent)} ({' '.join(f'--length {r}=N' for r in absent)})")
    lengths = {r: n for r, n in lengths.items() if r in module.responses}
    tensors = {a: torch.tensor([values[a]], dtype=torch.float64, requires_grad=True)
               for a in module.atoms}
    counts_t = {r: torch.tensor([n], dtype=torch.float64) for r, n in lengths.items()}
    out = module(logps=tensors, lengths=counts_t)
    grads = torch.autograd.grad(out.losses.sum(), list(tensors.values()), allow_unused=True)
    gradient = {a: (0.0 if g is None else g.item()) for a, g in zip(tensors, grads, strict=True)}
    reference = brute.evaluate(list(compiled.terms), logps=tensors, lengths=counts_t)
    result = {"spec": spec, "source": compiled.source, "loss": out.losses.item(),
              "brute_force": reference.item(), "inputs": {a: values[a] for a in tensors},
              "lengths": lengths, "gradient": gradient,
              "chosen_reward": out.chosen_rewards.item(),
              "rejected_reward": out.rejected_rewards.item()}
    _report_eval(spec, compiled, result, ["atom", "log-prob", "d loss / d log-prob"], as_json)


# ---------------------------------------------------------------- plot


@click.command()
@click.argument("specs", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("losses.png"), show_default=True, help="Image file to write.")
@click.option("--margin", type=POSITIVE, default=10.0, show_default=True,
              help="Plot the margin from -MARGIN to MARGIN (finite, > 0).")
@loss_options
@file_option
@json_option
def plot(specs, output, margin, beta, gamma, label_smoothing, tau, normalize, family, files,
         as_json):
    """Plot the loss and its gradients against the log-ratio margin, SPECS side by side;
    single-model losses also get a heat map over (pc, pr)."""
    from logicpo.numbers.api import instantiate
    from logicpo.plots.losses import plot_losses

    params = _params(beta, gamma, label_smoothing, tau, normalize, family)
    modules = [instantiate(_compile(spec, files, params)) for spec in specs]
    path = plot_losses(modules, output, margin=margin)
    if as_json:
        emit_json({"output": str(path), "specs": list(specs),
                   "sources": [m.source for m in modules]})
        return
    console.print(f"wrote {escape(str(path))} ({len(modules)} loss"
                  f"{'es' if len(modules) != 1 else ''})")


# ---------------------------------------------------------------- export


@click.command()
@click.argument("spec")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Python file to write, e.g. my_loss.py.")
@click.option("--name", help="Name of the exported function (default: the file's stem).")
@click.option("--for", "target", type=click.Choice(EXPORT_TARGETS),
              help="trl: also write LogicpoDPOTrainer into the file (needs only torch and "
                   "TRL). torchtune: check that torchtune's DPO recipes can call the class "
                   "(they pass no token counts) and print its _component_.")
@loss_options
@file_option
@json_option
def export(spec, output, name, target, beta, gamma, label_smoothing, tau, normalize, family,
           files, as_json):
    """Write SPEC as a standalone Python file that needs only torch: the module and a
    TRL-style function NAME(policy_chosen_logps, policy_rejected_logps,
    reference_chosen_logps, reference_rejected_logps).

    \b
    logicpo export sigmoid -o my_loss.py --beta 0.1
    logicpo export simpo --for trl -o simpo_trl.py
    logicpo export sigmoid --for torchtune -o my_loss.py
    """
    from logicpo.files import write_atomic
    from logicpo.numbers.export import function_name, render

    fn = function_name(output, name)
    compiled = _compile(spec, files, _params(beta, gamma, label_smoothing, tau, normalize,
                                             family))
    text = render(compiled, fn, for_=target, module=output.stem)
    write_atomic(output, text)
    cls = compiled.generated.class_name
    result = {"output": str(output), "function": fn, "for": target, **_facts(compiled)}
    if target == "trl":
        result["trainer"] = "LogicpoDPOTrainer"
    elif target == "torchtune":
        result["component"] = f"{output.stem}.{cls}"
    if as_json:
        emit_json(result)
        return
    console.print(f"wrote {escape(str(output))}: {fn}(...) and class {cls}"
                  + (" and LogicpoDPOTrainer" if target == "trl" else "")
                  + f", computing {escape(compiled.source)}")
    if target == "trl":
        console.print(f"use: LogicpoDPOTrainer(..., loss={cls}())")
    elif target == "torchtune":
        console.print(f"use: loss: {{_component_: {escape(result['component'])}}}")


# ---------------------------------------------------------------- docs


@click.command()
@click.option("--write", "mode", flag_value="write", help="Rewrite the generated docs.")
@click.option("--check", "mode", flag_value="check",
              help="Exit 1 when a generated doc is stale or missing.")
@click.option("--docs-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The docs directory [default: docs/ of the logicpo checkout running].")
@json_option
def docs(mode, docs_dir, as_json):
    """Generate docs/zoo.md from the zoo (print it, --write it, or --check it is current).

    --write and --check work on the docs/ of the checkout logicpo runs from (an
    installed logicpo has none: pass --docs-dir).
    """
    from logicpo.numbers.zoo_doc import checkout_docs, render

    text = render()
    if mode is None and not as_json:
        click.echo(text, nl=False)
        return
    path = (docs_dir if docs_dir is not None else checkout_docs()) / "zoo.md"
    missing = not path.exists()
    stale = missing or read_text(path, "generated doc") != text
    written = mode == "write" and stale
    if written:
        write_atomic(path, text)
    if as_json:
        emit_json({"file": str(path), "stale": stale and not written,
                   "missing": missing and not written, "written": written})
    elif mode == "write":
        console.print(f"{'wrote' if written else 'up to date:'} {escape(str(path))}")
    else:
        state = ("missing (logicpo docs --write creates it)" if missing else
                 "stale (logicpo docs --write regenerates it)" if stale else "up to date")
        console.print(f"{escape(str(path))} is {state}")
    if mode == "check" and stale:
        raise SystemExit(1)
