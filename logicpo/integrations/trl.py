"""Train with any logicpo loss inside Hugging Face TRL: :class:`LogicpoDPOTrainer`.

``LogicpoDPOTrainer`` is a ``trl.DPOTrainer`` with one more argument, ``loss=``: a zoo
name, ``"file.lpo:name"``, an inline objective, or a compiled loss module. TRL does
everything else (data, the forward pass, the reference model, metrics, accelerate); the
loss of every step is the logicpo loss, fed with TRL's own sequence log-probs and the
token counts of TRL's ``completion_mask``::

    from trl import DPOConfig
    from logicpo.integrations.trl import LogicpoDPOTrainer

    args = DPOConfig(output_dir="out", bf16=False, report_to=[])
    trainer = LogicpoDPOTrainer(model=model, args=args, train_dataset=ds,
                                processing_class=tok, loss="simpo")
    trainer.train()

``loss=`` decides the loss and all its parameters, so ``DPOConfig.loss_type``,
``loss_weights``, ``beta``, ``label_smoothing`` and ``discopop_tau`` must keep their
defaults; options that would change the loss behind its back (``ld_alpha``,
``use_weighting``, ``f_divergence_type``, ``f_alpha_divergence_coef``) are refused, and so
is a TRL version whose internals this module was not checked against
(:data:`SUPPORTED_TRL`). Each refusal is an :class:`IntegrationError` raised by the
constructor. A loss without a reference model never loads or runs one: with
``ref_model=None`` TRL 1.x would reload the policy as the reference, so here
``ref_model``, ``precompute_ref_log_probs`` and ``sync_ref_model`` are refused for such a
loss. Everything else is TRL's: PEFT adapters (the reference is the adapters-disabled
base, or TRL's frozen "ref" copy of a ``PeftModel``'s adapter), a mixture of experts'
load-balancing loss, gradient accumulation, ``evaluate()``, bf16 (on a CPU-only machine
TRL's default ``bf16=True`` needs ``use_cpu=True``; ``bf16=False`` trains in float32).

This file needs only torch and TRL outside its ``logicpo-only`` block, so that
``logicpo export --for trl`` can copy it next to a generated loss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect

import torch

_compile_spec = None  # a standalone export has no compiler; logicpo's is imported below
# logicpo-only: begin
from logicpo.errors import LogicpoError as _ErrorBase  # noqa: E402
from logicpo.numbers.api import loss as _compile_spec  # noqa: E402, F811
from logicpo.numbers.module import CLASSIC_ATOMS  # noqa: E402 (defined above in an export)

# logicpo-only: end

__all__ = ["LOSS_ARGUMENTS", "SUPPORTED_TRL", "IntegrationError", "LogicpoDPOTrainer",
           "check_config", "check_trl_version", "loss_module"]

#: TRL releases whose ``DPOTrainer`` internals this module reproduces: 1.15.0 and 1.16.x
#: have the same ``_compute_loss``, ``compute_ref_log_probs``, ``log`` and ``evaluate``.
SUPPORTED_TRL = ">=1.15.0,<1.17"
_MIN_TRL, _END_TRL = (1, 15), (1, 17)

# the arguments of a loss module's forward, in order (logicpo.numbers.module.CompiledLoss)
LOSS_ARGUMENTS = ("policy_chosen_logps", "policy_rejected_logps", "reference_chosen_logps",
                  "reference_rejected_logps", "chosen_lengths", "rejected_lengths")


class IntegrationError(_ErrorBase, ValueError):
    """TRL cannot run the requested loss exactly as asked: a setting, a version or a loss
    that the integration would otherwise have to ignore or replace."""


try:
    import trl
    from accelerate.utils import is_peft_model
    from packaging.version import Version
    from trl import DPOConfig, DPOTrainer
    from trl.trainer import dpo_trainer as _dpo_module
except ImportError as exc:  # pragma: no cover - the trl extra is installed in CI
    raise IntegrationError(
        f"LogicpoDPOTrainer needs TRL: pip install 'trl{SUPPORTED_TRL}' (or 'logicpo[trl]') "
        f"({exc})") from exc

# DPOConfig fields whose value TRL's built-in loss reads: the logicpo loss decides them instead
_LOSS_FIELDS = ("loss_type", "loss_weights", "beta", "label_smoothing", "discopop_tau")
# DPOConfig fields that change the log-probs or weight the examples before any loss: not honoured
_UNSUPPORTED = {
    "ld_alpha": "LD-DPO down-weights the tokens past the shorter response inside TRL's "
                "log-probs, which the logicpo loss does not receive",
    "use_weighting": "WPO weights each pair by the policy's probabilities, outside the loss",
    "f_divergence_type": "the f-divergence transform rewrites the log-ratios before TRL's "
                         "loss; write the transformed loss as a logicpo objective instead",
    "f_alpha_divergence_coef": "it is the alpha of the f-divergence transform, which is not "
                               "supported",
}
_NON_MODEL_KEYS = {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}


def check_trl_version(version: str | None = None) -> None:
    """Raise :class:`IntegrationError` unless ``version`` (default: the installed TRL) is supported.

    >>> check_trl_version("1.16.0")
    >>> check_trl_version("0.29.1")
    Traceback (most recent call last):
      ...
    logicpo.integrations.trl.IntegrationError: TRL 0.29.1 is not supported by LogicpoDPOTrainer, which reproduces the internals of DPOTrainer in TRL >=1.15.0,<1.17 (install one of those: pip install 'trl>=1.15.0,<1.17')
    """
    version = trl.__version__ if version is None else version
    release = Version(version).release
    if not (_MIN_TRL <= release[:2] < _END_TRL) or Version(version).is_prerelease:
        raise IntegrationError(
            f"TRL {version} is not supported by LogicpoDPOTrainer, which reproduces the internals "
            f"of DPOTrainer in TRL {SUPPORTED_TRL} (install one of those: "
            f"pip install 'trl{SUPPORTED_TRL}')")


def loss_module(loss) -> torch.nn.Module:
    """The loss module for ``loss=``: a spec string, a compiled loss, or its class.

    Any object with the attributes ``uses_reference``, ``needs_lengths`` and ``beta`` whose
    ``forward`` takes the arguments of :data:`LOSS_ARGUMENTS` will do: a
    ``logicpo.loss(...)`` module, or the class of a file written by ``logicpo export``.
    """
    if isinstance(loss, str):
        if _compile_spec is None:
            raise IntegrationError(
                f"loss={loss!r}: this standalone file cannot compile a loss from its name; "
                "pass the loss module it defines, or install logicpo")
        return _pairs_only(_compile_spec(loss))
    if loss is None:
        raise IntegrationError("LogicpoDPOTrainer needs loss=: a zoo name such as 'sigmoid', "
                               "'file.lpo:name', an inline objective, or a compiled loss module")
    if isinstance(loss, type):
        try:
            loss = loss()
        except TypeError as exc:
            raise IntegrationError(f"loss={loss.__name__}: a loss class must be constructible "
                                   f"without arguments ({exc})") from exc
    missing = [a for a in ("uses_reference", "needs_lengths", "beta") if not hasattr(loss, a)]
    forward = getattr(loss, "forward", None)
    if missing or not callable(forward):
        what = ", ".join(missing) if missing else "a forward method"
        raise IntegrationError(
            f"loss={type(loss).__name__} is not a logicpo loss module (it lacks {what}); "
            "pass a spec string or a module from logicpo.loss(...) or logicpo export")
    params = inspect.signature(forward).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    absent = [a for a in LOSS_ARGUMENTS if a not in params]
    if absent and not takes_any:
        raise IntegrationError(
            f"loss={type(loss).__name__}: its forward does not take {', '.join(absent)}; a "
            f"logicpo loss module's forward takes ({', '.join(LOSS_ARGUMENTS)})")
    return _pairs_only(loss)


def _pairs_only(loss):
    """``loss``, unless it reads a response or model TRL's trainer does not score (a gold
    response, a ranked list, a second reference): then a clear error, before training.
    TRL's DPOTrainer computes log-probs for the classic atoms only: a chosen and a rejected
    response, under the policy and the reference."""
    beyond = [a for a in (getattr(loss, "atoms", None) or ()) if a not in CLASSIC_ATOMS]
    if beyond:
        raise IntegrationError(
            f"loss {_describe(loss)} reads {', '.join(beyond)}, but TRL's DPOTrainer scores "
            "only a chosen and a rejected response (M(yw), M(yl), Ref(yw), Ref(yl)); train "
            "losses beyond pairs with --trainer builtin, which scores every response a loss "
            "reads")
    return loss


def _default(field: dataclasses.Field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _describe(loss) -> str:
    source = getattr(loss, "source", "") or getattr(loss, "spec", "") or type(loss).__name__
    return f"'{source}'"


def _instead(name: str, value) -> str:
    """How to say with ``loss=`` what the DPOConfig field ``name`` tried to say."""
    if name in ("loss_type", "loss_weights"):
        return ("choose the loss with loss= instead, e.g. loss='ipo' or a weighted sum such "
                "as loss='0.8*sigmoid + 0.2*bco_pair'")
    parameter = {"discopop_tau": "tau"}.get(name, name)
    example = {"beta": "sigmoid", "label_smoothing": "robust", "discopop_tau": "discopop"}[name]
    return (f"give it to the loss instead, e.g. loss=logicpo.loss({example!r}, "
            f"{parameter}={value!r})")


def check_config(args, loss) -> None:
    """Refuse every ``DPOConfig`` setting the logicpo ``loss`` would silently override."""
    defaults = {f.name: _default(f) for f in dataclasses.fields(DPOConfig)}
    for name in _LOSS_FIELDS:
        value = getattr(args, name)
        if value != defaults[name]:
            raise IntegrationError(
                f"DPOConfig.{name}={value!r} does not apply: loss= decides the loss and its "
                f"parameters (here {_describe(loss)}); {_instead(name, value)}, and leave "
                f"DPOConfig.{name} at its default {defaults[name]!r}")
    for name, why in _UNSUPPORTED.items():
        value = getattr(args, name)
        if value != defaults[name]:
            raise IntegrationError(f"DPOConfig.{name}={value!r} is not supported by "
                                   f"LogicpoDPOTrainer: {why}")
    if not loss.uses_reference:
        for name in ("precompute_ref_log_probs", "sync_ref_model"):
            if getattr(args, name):
                raise IntegrationError(
                    f"DPOConfig.{name}=True, but the loss {_describe(loss)} uses no reference "
                    f"model: there is none to {'precompute' if name[0] == 'p' else 'sync'}; "
                    f"leave {name} False")


@contextlib.contextmanager
def _no_reference_model(policy_from_path: bool):
    """While TRL's ``__init__`` runs, its loader returns no reference model: with
    ``ref_model=None`` TRL 1.x would reload the policy as the reference."""
    load = _dpo_module.create_model_from_path
    pending_policy = [policy_from_path]   # the first load is the policy when given as a path

    def load_policy_only(model_id, *args, **kwargs):
        if pending_policy[0]:
            pending_policy[0] = False
            return load(model_id, *args, **kwargs)
        return None

    _dpo_module.create_model_from_path = load_policy_only
    try:
        yield
    finally:
        _dpo_module.create_model_from_path = load


class LogicpoDPOTrainer(DPOTrainer):
    """``trl.DPOTrainer`` whose loss is the logicpo loss ``loss=``; every other argument is TRL's.

    The loss receives TRL's summed completion log-probs of the policy (and of the
    reference, precomputed or online, when the loss uses one) and the completion token
    counts; the step's loss is the mean of its per-example losses. TRL's metrics keep
    their names; ``rewards/*`` are the loss module's rewards (per-token for a
    length-normalised loss, see docs/api.md).
    """

    def __init__(self, *args, loss=None, **kwargs):
        check_trl_version()
        self.logicpo_loss = loss_module(loss)
        names = list(inspect.signature(DPOTrainer.__init__).parameters)[1:]
        bound = dict(zip(names, args, strict=False), **kwargs)
        config = bound.get("args")
        if config is not None:
            check_config(config, self.logicpo_loss)
        model, ref_model = bound.get("model"), bound.get("ref_model")
        peft = bound.get("peft_config") is not None or (
            isinstance(model, torch.nn.Module) and is_peft_model(model))
        if self.logicpo_loss.uses_reference:
            needs_reload = (ref_model is None and not peft and not isinstance(model, str)
                            and not (config is not None and config.precompute_ref_log_probs))
            if needs_reload and not getattr(getattr(model, "config", None), "_name_or_path", ""):
                raise IntegrationError(
                    f"the loss {_describe(self.logicpo_loss)} uses a reference model and "
                    "ref_model=None, but the policy was built in memory, so TRL cannot reload it "
                    "as the reference: pass ref_model=copy.deepcopy(model), or "
                    "DPOConfig(precompute_ref_log_probs=True)")
            context = contextlib.nullcontext()
        else:
            if ref_model is not None:
                raise IntegrationError(
                    f"ref_model is given, but the loss {_describe(self.logicpo_loss)} uses no "
                    "reference model; drop ref_model= (it would only cost memory)")
            context = _no_reference_model(isinstance(model, str))
        with context:
            super().__init__(*args, **kwargs)
        if not self.logicpo_loss.uses_reference:
            self._drop_reference_adapter()
        self.beta = self.logicpo_loss.beta
        if isinstance(self.logicpo_loss, torch.nn.Module):  # a hand-written loss may hold buffers
            self.logicpo_loss.to(self.accelerator.device)

    def _drop_reference_adapter(self) -> None:
        """TRL copies a PEFT model's adapter to a frozen "ref" adapter; a loss without a
        reference never reads it."""
        if is_peft_model(self.model):
            unwrapped = self.accelerator.unwrap_model(self.model)
            if "ref" in unwrapped.peft_config:
                unwrapped.delete_adapter("ref")

    # Mirrors DPOTrainer._compute_loss of TRL 1.15-1.16, with the logicpo loss in place of
    # the loss_type loop; the metrics are TRL's, computed the same way.
    def _compute_loss(self, model, inputs, return_outputs):
        mode = "train" if self.model.training else "eval"
        model_kwargs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS}
        model_kwargs["use_cache"] = False
        if self.aux_loss_enabled:  # MoE: the model returns outputs.aux_loss
            model_kwargs["output_router_logits"] = True
        completion_mask = inputs["completion_mask"]
        shift_completion_mask = completion_mask[..., 1:]
        labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
        outputs = model(**model_kwargs, labels=labels, fused_lm_head=True)
        # prompt-learning PEFT prepends virtual tokens: keep the positions of the real tokens
        seq_len = shift_completion_mask.size(1)
        per_token_logps = outputs.log_probs[:, -seq_len:]
        chosen_logps, rejected_logps = per_token_logps.sum(dim=1).chunk(2, dim=0)  # (B,) each

        # reference: none for a reference-free loss, else precomputed or one no-grad forward
        ref_chosen_logps = ref_rejected_logps = None
        if self.logicpo_loss.uses_reference:
            if self.precompute_ref_logps:
                ref_chosen_logps = inputs["ref_chosen_logps"]
                ref_rejected_logps = inputs["ref_rejected_logps"]
            else:
                reference = self.ref_model if self.ref_model is not None else self.model
                ref_chosen_logps, ref_rejected_logps = self.compute_ref_log_probs(reference, inputs)

        # token counts of the completions, as TRL's length-normalised losses count them
        chosen_mask, rejected_mask = completion_mask.chunk(2, dim=0)
        chosen_lengths = chosen_mask.sum(dim=1).clamp(min=1.0)  # (B,)
        rejected_lengths = rejected_mask.sum(dim=1).clamp(min=1.0)  # (B,)
        out = self.logicpo_loss(
            policy_chosen_logps=chosen_logps, policy_rejected_logps=rejected_logps,
            reference_chosen_logps=ref_chosen_logps, reference_rejected_logps=ref_rejected_logps,
            chosen_lengths=chosen_lengths, rejected_lengths=rejected_lengths)
        losses, chosen_rewards, rejected_rewards = out
        if losses.shape != chosen_logps.shape:
            raise IntegrationError(
                f"the loss {_describe(self.logicpo_loss)} returned losses of shape "
                f"{tuple(losses.shape)} for a batch of {chosen_logps.shape[0]} pairs; a loss "
                "module returns one loss per pair")
        loss = losses.mean()

        if self.aux_loss_enabled:
            aux_loss = outputs.aux_loss
            loss = loss + self.router_aux_loss_coef * aux_loss
            self._metrics[mode]["aux_loss"].append(
                self.accelerator.gather_for_metrics(aux_loss).mean().item())
        self._log_metrics(mode, inputs, outputs, seq_len, shift_completion_mask, chosen_logps,
                          rejected_logps, chosen_rewards.detach(), rejected_rewards.detach())

        if return_outputs:  # as TRL: the fused head builds no logits, so recompute them
            with torch.no_grad():
                outputs = model(**model_kwargs)
        return (loss, outputs) if return_outputs else loss

    def _log_metrics(self, mode, inputs, outputs, seq_len, shift_completion_mask, chosen_logps,
                     rejected_logps, chosen_rewards, rejected_rewards) -> None:
        """TRL's metrics, under TRL's names, computed as DPOTrainer computes them."""
        gather_sum = self.accelerator.gather_for_metrics
        metrics = self._metrics[mode]
        mask = shift_completion_mask
        # entropy, token-weighted across ranks
        entropy_sum = gather_sum((outputs.entropy[:, -seq_len:].detach() * mask).sum()).sum()
        total_tokens = gather_sum(mask.sum()).sum()
        metrics["entropy"].append((entropy_sum / total_tokens).item() if total_tokens > 0 else 0.0)
        if mode == "train":
            tokens = gather_sum(inputs["attention_mask"].sum()).sum().item()
            self._total_train_tokens += tokens // self._tp_size
        metrics["num_tokens"] = [self._total_train_tokens]
        # mean logits over the chosen and the rejected completion tokens
        chosen_mean_logits, rejected_mean_logits = outputs.mean_logits[:, -seq_len:].chunk(2, dim=0)
        chosen_mask, rejected_mask = mask.chunk(2, dim=0)
        for name, logits, m in (("chosen", chosen_mean_logits, chosen_mask),
                                ("rejected", rejected_mean_logits, rejected_mask)):
            total = gather_sum(logits[m.bool()].sum()).sum().item()
            count = gather_sum(m.sum()).sum().item()
            metrics[f"logits/{name}"].append(total / count if count > 0 else 0.0)
        # top-1 accuracy on the chosen completion tokens
        chosen_is_top1, _ = outputs.is_top1[:, -seq_len:].chunk(2, dim=0)
        correct = gather_sum((chosen_is_top1 & chosen_mask.bool()).sum())
        count = gather_sum(chosen_mask.sum()).sum()
        metrics["mean_token_accuracy"].append((correct.sum() / count).item() if count > 0 else 0.0)
        # rewards: the loss module's
        gather = self.accelerator.gather
        metrics["rewards/chosen"].append(gather(chosen_rewards).mean().item())
        metrics["rewards/rejected"].append(gather(rejected_rewards).mean().item())
        metrics["rewards/accuracies"].append(
            gather((chosen_rewards > rejected_rewards).float()).mean().item())
        metrics["rewards/margins"].append(gather(chosen_rewards - rejected_rewards).mean().item())
        metrics["logps/chosen"].append(gather(chosen_logps.detach()).mean().item())
        metrics["logps/rejected"].append(gather(rejected_logps.detach()).mean().item())
