"""What every command shares: error handling, JSON output, rich tables, name lookup."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from logicpo.errors import (
    INTERNAL_EXIT_CODE,
    REPORT_REQUEST,
    InternalError,
    LogicpoError,
    UsageError,
)

console = Console(highlight=False, soft_wrap=False)


def gc_paused(command):
    """Run a one-shot reasoning command with the cyclic garbage collector paused (resumed
    when it returns, whatever happens). A 2,000-structure file makes about 190,000 AST nodes
    and spans, none in a cycle, and every collection their allocation triggers walks them
    all again: about a sixth of ``lattice --file``'s time (docs/performance.md). Not for
    training, whose tensors and graphs the collector must keep reclaiming."""
    import functools
    import gc

    @functools.wraps(command)
    def run(*args, **kwargs):
        enabled = gc.isenabled()
        gc.disable()
        try:
            return command(*args, **kwargs)
        finally:
            # a command that kept its objects for the process's end (keep_until_exit) is
            # the last thing the process does: no collection walks them all once more
            if enabled and not kept():
                gc.enable()

    return run


class _ProcessEnd:
    """Whether the running command is the whole process (set by :func:`logicpo.cli.run`, the
    console entry), and what a one-shot command kept for the process's end."""

    entry = False
    kept: list = []


def keep_until_exit(*objects) -> None:
    """Keep what a one-shot command built (a program of thousands of definitions, their
    structures) to the end of the process, and let the process entry
    (:func:`logicpo.cli.run`) leave without freeing it or collecting it: freeing and
    collecting the 190,000 AST nodes and spans of a 2,000-structure file took 0.09 s, a sixth
    of ``lattice --file`` (docs/performance.md). Inside the library, ``main([...])`` or
    click's test runner this does nothing: the objects are freed as usual."""
    if _ProcessEnd.entry:
        _ProcessEnd.kept.extend(objects)


def kept() -> bool:
    """Whether the command kept something for the process's end (then it ends at once)."""
    return bool(_ProcessEnd.kept)


def enter_process() -> None:
    """Say that the command about to run is the whole process (:func:`logicpo.cli.run`)."""
    _ProcessEnd.entry = True


err_console = Console(stderr=True, highlight=False)


class LogicpoGroup(click.Group):
    """A click group that turns logicpo errors into a located message and an exit code.

    The message goes to standard error; with ``--json`` the error is also printed to
    standard output as ``{"error": ..., "message": ..., "file", "line", "column"}``.
    An :class:`~logicpo.errors.InternalError` (a bug in logicpo) exits with code 70, asks
    to be reported, and its JSON carries ``"internal": true``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["logicpo.json"] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LogicpoError as exc:
            if ctx.meta.get("logicpo.json"):
                emit_json(exc.to_json())
            err_console.print(f"[bold red]error:[/] {_escape(exc.render())}")
            ctx.exit(2 if isinstance(exc, UsageError) else 1)
        except InternalError as exc:  # a bug of ours: said so, never blamed on the input
            if ctx.meta.get("logicpo.json"):
                emit_json(exc.to_json())
            err_console.print(f"[bold red]internal error:[/] {_escape(exc.message)}\n"
                              f"  {REPORT_REQUEST}")
            ctx.exit(INTERNAL_EXIT_CODE)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            ctx.exit(130)


class FreeTextCommand(click.Command):
    """A command whose one argument is free text that may start with ``-`` (a loss formula).

    Only the command's exact option names (``--json``, ``--points N`` or ``--points=N``,
    ``-h``, ``--help``) are options; every other word, however it starts, is text, and so is
    everything after ``--``. Click alone would read ``-logsigmoid(...)`` as the short options
    ``-l -o -g ...`` and its ``h`` as ``-h``, printing the help instead of reading the text.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value: dict[str, bool] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                for name in (*param.opts, *param.secondary_opts):
                    takes_value[name] = not (param.is_flag or param.count)
        options: list[str] = []
        words: list[str] = []
        rest = iter(args)
        for word in rest:
            name = word.split("=", 1)[0] if word.startswith("--") else word
            if word == "--":
                words.extend(rest)
            elif name not in takes_value:
                words.append(word)
            elif takes_value[name] and "=" not in word:
                value = next(rest, None)
                if value is None:
                    raise click.UsageError(f"Option '{word}' requires an argument.", ctx)
                options += [word, value]
            else:
                options.append(word)
        return super().parse_args(ctx, [*options, "--", *words])


class Number(click.ParamType):
    """A finite float in a domain: ``nan``, ``inf`` and values outside it are usage errors
    (exit 2) before anything is computed. The one place where the CLI's numbers about an
    example (log-probs, token counts) and its plotting ranges are checked; the loss
    hyper-parameters (``--beta`` ...) are checked where the DSL's are, in
    ``logicpo.logic.objective``."""

    def __init__(self, name: str, *, at_most: float | None = None,
                 at_least: float | None = None, above: float | None = None) -> None:
        self.name = name
        self.at_most, self.at_least, self.above = at_most, at_least, above

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, float):
            x = value
        else:
            try:
                x = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.at_most is not None and x > self.at_most:
            self.fail(f"a {self.name} is at most {self.at_most:g}, not {x:g}", param, ctx)
        if self.at_least is not None and x < self.at_least:
            self.fail(f"a {self.name} is at least {self.at_least:g}, not {x:g}", param, ctx)
        if self.above is not None and x <= self.above:
            self.fail(f"a {self.name} is above {self.above:g}, not {x:g}", param, ctx)
        return x


#: A sequence log-probability: finite and at most 0 (a probability is at most 1).
LOG_PROB = Number("log-prob", at_most=0.0)
#: A response's token count: finite and at least 1 (the EOS token counts).
TOKEN_COUNT = Number("token count", at_least=1.0)
#: A finite positive width, such as a plot's range.
POSITIVE = Number("positive number", above=0.0)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print machine-readable JSON instead of tables.")(f)


def file_option(f):
    return click.option("--file", "-f", "files", multiple=True,
                        type=click.Path(dir_okay=False, path_type=Path),
                        help="A .lpo file whose definitions to add to the zoo (repeatable).")(f)


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=_json_default))


def _json_default(o):
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def make_table(title: str | None, columns: list[str], rows: list[list], **kw) -> Table:
    table = Table(title=title, title_justify="left", **kw)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(x) for x in r])
    return table


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
