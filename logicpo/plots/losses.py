"""Loss curves: the loss and its gradients against the log-ratio margin, side by side.

One column per loss. Row 1: the loss against the margin ``m`` (``rho`` of DPO,
``(pc - rc) - (pr - rr)``, or ``pc - pr`` for single-model losses), with the
log-probs placed symmetrically around a base point. Row 2: the gradient with
respect to each input. Row 3, when some loss is single-model: a heat map of the
loss over ``(pc, pr)``. Length-normalised losses get token counts of 1.
"""

from __future__ import annotations

from pathlib import Path

import torch

from logicpo.plots import save_figure, subplots

_INPUTS = ("pc", "pr", "rc", "rr")


def curves(module, margin: float = 10.0, points: int = 201) -> dict:
    """Loss and gradients of ``module`` along the margin, in float64 (plain lists)."""
    m = torch.linspace(-margin, margin, points, dtype=torch.float64)
    base = -margin / 2 - 0.5  # keeps every log-prob below 0
    pc = (base + m / 2).requires_grad_()
    pr = (base - m / 2).requires_grad_()
    rc = torch.full_like(m, base).requires_grad_()
    rr = torch.full_like(m, base).requires_grad_()
    ones = torch.ones_like(m)
    inputs = (pc, pr, rc, rr) if module.uses_reference else (pc, pr)
    losses = module(pc, pr, rc, rr, ones, ones).losses
    grads = torch.autograd.grad(losses.sum(), inputs)
    return {"margin": m.tolist(), "loss": losses.detach().tolist(),
            "grad": {name: g.tolist() for name, g in zip(_INPUTS[:len(grads)], grads, strict=True)}}


def heat(module, low: float = -6.0, points: int = 121) -> dict:
    """The loss of a single-model ``module`` over a grid of ``(pc, pr)``."""
    axis = torch.linspace(low, -0.01, points, dtype=torch.float64)
    pc, pr = torch.meshgrid(axis, axis, indexing="xy")
    ones = torch.ones_like(pc.reshape(-1))
    with torch.no_grad():
        losses = module(pc.reshape(-1), pr.reshape(-1), None, None, ones, ones).losses
    return {"axis": axis.tolist(), "loss": losses.reshape(points, points).tolist()}


def plot_losses(modules: list, out: str | Path, *, margin: float = 10.0) -> Path:
    """Draw ``modules`` (compiled losses) side by side and save the figure to ``out``."""
    n = len(modules)
    single = any(not m.uses_reference for m in modules)
    rows = 3 if single else 2
    fig, axes = subplots(rows, n, figsize=(4.2 * n, 3.4 * rows), squeeze=False)
    for j, module in enumerate(modules):
        data = curves(module, margin)
        label = "(pc - rc) - (pr - rr)" if module.uses_reference else "pc - pr"
        ax = axes[0][j]
        ax.plot(data["margin"], data["loss"], color="tab:blue")
        ax.set_title(f"{module.spec}\n{_short(module.source)}", fontsize=9)
        ax.set_xlabel(f"margin {label}")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax = axes[1][j]
        for name, g in data["grad"].items():
            ax.plot(data["margin"], g, label=f"d loss / d {name}")
        ax.set_xlabel(f"margin {label}")
        ax.set_ylabel("gradient")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        if rows == 3:
            ax = axes[2][j]
            if module.uses_reference:
                ax.axis("off")
                ax.text(0.5, 0.5, "uses the reference model:\nno (pc, pr) heat map",
                        ha="center", va="center", fontsize=9)
                continue
            h = heat(module)
            lo, hi = h["axis"][0], h["axis"][-1]
            im = ax.imshow(h["loss"], origin="lower", extent=(lo, hi, lo, hi), aspect="auto",
                           cmap="viridis")
            ax.set_xlabel("pc")
            ax.set_ylabel("pr")
            fig.colorbar(im, ax=ax, label="loss")
    fig.tight_layout()
    return save_figure(fig, out, dpi=110, tight=False)


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
