"""Standalone loss files for training environments without logicpo (``logicpo export``).

Every file holds the runtime of :mod:`logicpo.numbers.module` (minus its one logicpo
import), the generated class, an instance of it, and a TRL-style function
``name(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
reference_rejected_logps) -> (losses, chosen_rewards, rejected_rewards)``. Its numbers are
the compiled module's, bit for bit: it is the same code. Two targets add to that:

- ``for_="trl"`` appends :mod:`logicpo.integrations.trl` (minus its logicpo-only block),
  so the file also defines ``LogicpoDPOTrainer`` and needs only torch and TRL;
- ``for_="torchtune"`` checks that torchtune's DPO recipes can call the class (they pass
  the four log-prob sums, never token counts) and names the ``_component_`` to write.

Both copies are cut from the installed sources by the same rule: never a second
hand-written trainer or runtime.

A loss over atoms beyond the classic four (``M(yg)``, ``M(yl2)``, ...) is exported with the
function ``name(logps, lengths=None) -> (losses, chosen_rewards, rejected_rewards)``, its
log-probs by atom (``logps={"M(yw)": pc, "M(yg)": pg}``), as the module takes them; neither
TRL's trainer nor torchtune's recipes pass such log-probs, so those targets refuse it.

>>> text = export_source("sigmoid", {"beta": 0.1}, name="dpo_loss")
>>> "import logicpo" in text, "def dpo_loss(" in text
(False, True)
>>> "class LogicpoDPOTrainer(DPOTrainer)" in export_source("sigmoid", {}, for_="trl")
True
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from logicpo import __version__
from logicpo.errors import UsageError
from logicpo.numbers import module as runtime
from logicpo.numbers.api import Compiled, compile_spec

TARGETS = ("trl", "torchtune")
# the call torchtune 0.6's DPO recipes make (recipes/*_dpo_*.py): four sums, no token counts
TORCHTUNE_CALL = ("loss_fn(policy_chosen_logps, policy_rejected_logps, "
                  "reference_chosen_logps, reference_rejected_logps)")

_BLOCK = re.compile(r"# logicpo-only: begin\n.*?# logicpo-only: end\n", re.S)
_STANDALONE_BASE = ("class _ErrorBase(Exception):\n"
                    '    """Stands in for the LogicpoError of logicpo in this standalone file."""\n')


def _standalone(path: str | Path, replacement: str) -> str:
    """The source at ``path`` without its docstring, ``__future__`` import and its one
    logicpo-only block (replaced by ``replacement``)."""
    text = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(text)
    first = tree.body[0]
    lines = text.splitlines(True)
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        lines = lines[first.end_lineno:]
    body = "".join(lines).replace("from __future__ import annotations\n", "", 1)
    body, count = _BLOCK.subn(replacement, body)
    if count != 1:  # pragma: no cover - guards the marker in the source
        raise AssertionError(f"{Path(path).name} lost its logicpo-only marker")
    return body.strip("\n") + "\n"


def runtime_source() -> str:
    """``module.py`` without its docstring, ``__future__`` import and logicpo-only lines."""
    return _standalone(runtime.__file__, _STANDALONE_BASE)


def trl_source() -> str:
    """``integrations/trl.py`` the same way; its ``_ErrorBase`` is the runtime's, defined above
    it in the file. Read from disk, so exporting needs no TRL installed."""
    spec = importlib.util.find_spec("logicpo.integrations.trl")
    return _standalone(spec.origin, "")


def function_name(path: str | Path | None, name: str | None = None) -> str:
    """The exported function's name: ``name``, else the file's stem if it is an identifier."""
    candidate = name or (Path(path).stem if path else "loss_fn")
    if not candidate.isidentifier():
        raise UsageError(f"cannot name the exported function {candidate!r}: not a Python "
                         "identifier; pass --name")
    return candidate


def export_source(spec: str, params: dict, *, name: str = "loss_fn", files=(),
                  for_: str | None = None, module: str | None = None) -> str:
    """The text of a standalone file computing ``spec`` with ``params``."""
    compiled = compile_spec(spec, params, files)
    return render(compiled, name, for_=for_, module=module)


def check_target(compiled: Compiled, for_: str | None) -> None:
    """Raise :class:`UsageError` when the target cannot run ``compiled`` as it is."""
    if for_ is not None and for_ not in TARGETS:
        raise UsageError(f"unknown export target {for_!r} (valid: {', '.join(TARGETS)})")
    if for_ is not None and not compiled.classic:
        caller = ("LogicpoDPOTrainer (TRL's DPOTrainer) scores only the chosen and the "
                  "rejected response" if for_ == "trl" else
                  f"torchtune's DPO recipes call the loss as {TORCHTUNE_CALL}")
        raise UsageError(
            f"cannot export '{compiled.spec}' for {for_}: it reads {', '.join(compiled.atoms)}, "
            f"log-probs beyond the classic four of a pair, but {caller}, so it would have "
            "nothing to pass for them",
            hint="export it without --for: the file's function takes logps={atom: tensor} "
                 "and lengths={response: tensor}, for a training loop of your own (or train "
                 "it with `logicpo train`)")
    if for_ == "torchtune" and compiled.needs_lengths:
        raise UsageError(
            f"cannot export '{compiled.spec}' for torchtune: it is length-normalised "
            f"({compiled.source}) and needs the completion token counts, but torchtune's DPO "
            f"recipes call the loss as {TORCHTUNE_CALL}, with no token counts, so it would "
            "fail on its first step",
            hint="export it --for trl (TRL passes the counts), train it with `logicpo train "
                 "--trainer trl`, choose --normalize none to train on summed log-probs, or "
                 "call the loss with chosen_lengths= and rejected_lengths= from a recipe of "
                 "your own")


def render(compiled: Compiled, name: str, *, for_: str | None = None,
           module: str | None = None) -> str:
    check_target(compiled, for_)
    gen = compiled.generated
    cls = gen.class_name
    doc = _class_doc(gen.code)
    usage = {
        None: f"Generated by logicpo {__version__}; needs only torch.\n",
        "trl": (f"Generated by logicpo {__version__} for TRL; needs only torch and TRL "
                "(>=1.15.0,<1.17).\nTrain with LogicpoDPOTrainer(model=..., args=DPOConfig(...), "
                f"train_dataset=..., processing_class=..., loss={cls}()).\n"),
        "torchtune": (f"Generated by logicpo {__version__} for torchtune; needs only torch.\n"
                      "In a torchtune DPO recipe config, with this file on the Python path:\n"
                      f"  loss:\n    _component_: {module or name}.{cls}\n"
                      f"The recipes call it as {TORCHTUNE_CALL}.\n"),
    }[for_]
    if not compiled.classic:
        return _render_named(compiled, name, doc)
    header = (f'"""{name}: the loss {compiled.spec!r} as a standalone PyTorch module.\n\n'
              f"{usage}"
              f"Call {name}(policy_chosen_logps, policy_rejected_logps, "
              "reference_chosen_logps, reference_rejected_logps)\n"
              "for TRL-style (losses, chosen_rewards, rejected_rewards), or use the "
              f"module {cls}.\n\n{doc}\n"
              '"""\n\n')
    ref = "reference_chosen_logps, reference_rejected_logps"
    function = f'''

_LOSS = {cls}()


def {name}(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps=None,
{" " * (len(name) + 5)}reference_rejected_logps=None, chosen_lengths=None, rejected_lengths=None):
    """Per-example losses, chosen rewards, rejected rewards (each of shape (B,)).

    {compiled.source}
    {"Needs " + ref + "." if compiled.uses_reference else "Reference-free: " + ref + " are ignored."}
    """
    out = _LOSS(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                reference_rejected_logps, chosen_lengths, rejected_lengths)
    return out.losses, out.chosen_rewards, out.rejected_rewards
'''
    trainer = ""
    if for_ == "trl":
        trainer = ("\n\n# ---- logicpo.integrations.trl, as installed with logicpo "
                   f"{__version__}\n\n" + trl_source())
    return (header + "from __future__ import annotations\n\n" + runtime_source() + "\n\n"
            + gen.code.rstrip("\n") + "\n" + function + trainer)


def _render_named(compiled: Compiled, name: str, doc: str) -> str:
    """The standalone file of a loss over more atoms: its function takes ``logps=`` and
    ``lengths=`` as the module does."""
    gen = compiled.generated
    cls = gen.class_name
    atoms = ", ".join(f"{a!r}" for a in compiled.atoms)
    required = gen.lengths_required
    needs = (f"lengths needs the token counts of {', '.join(required)}." if required else
             "lengths (token counts by response) may be left out.")
    header = (f'"""{name}: the loss {compiled.spec!r} as a standalone PyTorch module.\n\n'
              f"Generated by logicpo {__version__}; needs only torch.\n"
              f"Call {name}(logps, lengths) with logps a dict from each atom the loss reads "
              f"({atoms})\nto its log-probs (B,), for (losses, chosen_rewards, "
              f"rejected_rewards), or use the module {cls}.\n\n{doc}\n"
              '"""\n\n')
    function = f'''

_LOSS = {cls}()


def {name}(logps, lengths=None):
    """Per-example losses, chosen rewards, rejected rewards (each of shape (B,)).

    {compiled.source}
    logps: {{atom: (B,) log-probs}} for exactly {atoms}; {needs}
    """
    out = _LOSS(logps=logps, lengths={{}} if lengths is None else lengths)
    return out.losses, out.chosen_rewards, out.rejected_rewards
'''
    return (header + "from __future__ import annotations\n\n" + runtime_source() + "\n\n"
            + gen.code.rstrip("\n") + "\n" + function)


def _class_doc(source: str) -> str:
    """The generated class's docstring text, unindented."""
    cls = ast.parse(source).body[0]
    return (ast.get_docstring(cls) or "").replace("\\", "\\\\").replace('"""', "'''")
