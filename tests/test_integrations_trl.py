"""LogicpoDPOTrainer against the real TRL: the same loss trains the same weights.

Oracles: TRL's own DPOTrainer with the built-in ``loss_type`` (step-by-step parity of the
loss, every logged metric and the final weights), TRL's CPOTrainer loss for SimPO, and a
plain transformers forward pass for the per-token rewards. Everything runs on a one-layer
Llama built in memory (tests/tiny_hf.py); nothing is downloaded.
"""

from __future__ import annotations

import pytest
import tiny_hf
import torch
import torch.nn.functional as F  # noqa: N812
from trl import DPOTrainer
from trl.trainer import dpo_trainer as trl_dpo

import logicpo
from logicpo.errors import LogicpoError, NameResolutionError
from logicpo.integrations import trl as integration
from logicpo.integrations.trl import IntegrationError, LogicpoDPOTrainer

torch.set_num_threads(1)

# TRL loss_type (with the DPOConfig settings it needs) -> the same loss as a logicpo spec
PARITY = {
    "sigmoid": ({}, "sigmoid"),
    "hinge": ({}, "hinge"),
    "ipo": ({}, "ipo"),
    "sigmoid_norm": ({}, "sigmoid_norm"),
    "robust": ({"label_smoothing": 0.1}, "robust(DPO, label_smoothing=0.1)"),
    "exo_pair": ({"label_smoothing": 1e-3}, "exo_pair"),
    "apo_zero": ({}, "apo_zero"),
    "apo_down": ({}, "apo_down"),
    "discopop": ({}, "discopop"),
    "nca_pair": ({}, "nca_pair"),
    "bco_pair": ({}, "bco_pair"),
    "sppo_hard": ({}, "sppo_hard"),
}
# TRL's DPOTrainer logs summed log-ratios as rewards for these; logicpo logs per-token ones
PER_TOKEN_REWARDS = {"ipo", "sigmoid_norm"}
NOT_COMPARED = {"train_runtime", "train_samples_per_second", "train_steps_per_second",
                "eval_runtime", "eval_samples_per_second", "eval_steps_per_second"}


@pytest.fixture(scope="module")
def tok():
    return tiny_hf.tokenizer()


@pytest.fixture(scope="module")
def data():
    return tiny_hf.preferences()


def run(cls, out, tok, data, *, reference="online", evaluate=True, config=None, moe=False,
        **kwargs):
    """Train 2 steps of 2 accumulated micro-batches; the log history and the policy."""
    policy = tiny_hf.model(0, moe)
    settings = dict(config or {})
    if reference == "precomputed":
        settings["precompute_ref_log_probs"] = True
    args = tiny_hf.dpo_config(out, **settings)
    if reference is not None:
        kwargs["ref_model"] = tiny_hf.model(1, moe)  # differs from the policy: rewards move at step 1
    trainer = cls(model=policy, args=args, train_dataset=data,
                  eval_dataset=tiny_hf.preferences(4) if evaluate else None,
                  processing_class=tok, **kwargs)
    trainer.train()
    if evaluate:
        trainer.evaluate()
    return trainer.state.log_history, policy, trainer


def assert_same_history(ours, theirs, skip=()):
    assert len(ours) == len(theirs)
    for mine, peer in zip(ours, theirs, strict=True):
        keys = set(peer) - NOT_COMPARED - {k for k in peer for s in skip if s in k}
        assert keys <= set(mine)
        for key in sorted(keys):
            assert mine[key] == pytest.approx(peer[key], rel=1e-5, abs=1e-6), key


def assert_same_weights(a, b):
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7, msg=name)


# ---------------------------------------------------------------- parity with TRL


@pytest.mark.parametrize("reference", ["online", "precomputed"])
@pytest.mark.parametrize("loss_type", sorted(PARITY))
def test_every_trl_loss_type_trains_the_same_weights(loss_type, reference, tok, data, tmp_path):
    """2 optimiser steps x 2 accumulated micro-batches, then evaluate(): the loss and every
    metric TRL logs agree at each step, and so do the final weights."""
    config, spec = PARITY[loss_type]
    theirs, trl_policy, _ = run(DPOTrainer, tmp_path / "trl", tok, data, reference=reference,
                                config={"loss_type": [loss_type], **config})
    ours, our_policy, _ = run(LogicpoDPOTrainer, tmp_path / "ours", tok, data,
                              reference=reference, loss=spec)
    assert [h["step"] for h in ours] == [1, 2, 2, 2]  # two steps, one eval, the summary
    assert_same_history(ours, theirs,
                        skip=("rewards/",) if loss_type in PER_TOKEN_REWARDS else ())
    assert_same_weights(our_policy, trl_policy)
    # the weights moved: a loss that did nothing would also be "equal"
    assert any(not torch.equal(p, q) for p, q in
               zip(our_policy.parameters(), tiny_hf.model(0).parameters(), strict=True))


def test_a_compiled_module_and_its_spec_train_alike(tok, data, tmp_path):
    by_name, a, _ = run(LogicpoDPOTrainer, tmp_path / "a", tok, data, evaluate=False,
                        loss="robust(DPO, label_smoothing=0.1)")
    by_module, b, _ = run(LogicpoDPOTrainer, tmp_path / "b", tok, data, evaluate=False,
                          loss=logicpo.loss("robust", label_smoothing=0.1))
    by_class, c, _ = run(LogicpoDPOTrainer, tmp_path / "c", tok, data, evaluate=False,
                         loss=type(logicpo.loss("robust", label_smoothing=0.1)))
    assert_same_history(by_module, by_name)
    assert_same_history(by_class, by_name)
    assert_same_weights(a, b)
    assert_same_weights(a, c)


def test_bf16_autocast_on_cpu_matches_trl(tok, data, tmp_path):
    """use_cpu=True keeps TRL's default bf16=True: autocast on the CPU, same numbers as TRL."""
    bf16 = {"use_cpu": True, "bf16": True}
    theirs, p, _ = run(DPOTrainer, tmp_path / "trl", tok, data, config=bf16)
    ours, q, _ = run(LogicpoDPOTrainer, tmp_path / "ours", tok, data, config=bf16,
                     loss="sigmoid")
    assert_same_history(ours, theirs)
    assert_same_weights(q, p)


def test_a_reference_synced_during_training_is_read_at_every_step(tok, data, tmp_path):
    """TR-DPO: TRL mixes the policy into the reference after every step."""
    sync = {"sync_ref_model": True, "ref_model_sync_steps": 1, "ref_model_mixup_alpha": 0.5}
    theirs, p, _ = run(DPOTrainer, tmp_path / "trl", tok, data, config=sync, evaluate=False)
    ours, q, trainer = run(LogicpoDPOTrainer, tmp_path / "ours", tok, data, config=sync,
                           evaluate=False, loss="sigmoid")
    assert_same_history(ours, theirs)
    assert_same_weights(q, p)
    assert not torch.equal(next(trainer.ref_model.parameters()),
                           next(tiny_hf.model(1).parameters()))


def test_a_mixture_of_experts_adds_its_load_balancing_loss_as_trl_does(tok, data, tmp_path):
    theirs, p, _ = run(DPOTrainer, tmp_path / "trl", tok, data, moe=True, evaluate=False)
    ours, q, trainer = run(LogicpoDPOTrainer, tmp_path / "ours", tok, data, moe=True,
                           evaluate=False, loss="sigmoid")
    assert trainer.aux_loss_enabled and trainer.router_aux_loss_coef == 0.05
    assert all(h["aux_loss"] > 0 for h in ours if "loss" in h)
    assert_same_history(ours, theirs)
    assert_same_weights(q, p)


def lora():
    from peft import LoraConfig

    # random (not zero) adapters, so that the policy differs from the base model at step 1
    return LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0,
                      init_lora_weights=False)


def adapter_weights(trainer):
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_" in n}


@pytest.mark.parametrize("wrapped", [False, True], ids=["peft_config", "PeftModel"])
def test_peft_adapters_give_the_reference_as_in_trl(wrapped, tok, data, tmp_path):
    """A new adapter (peft_config): the reference is the base model, adapters disabled. A
    PeftModel: TRL's frozen copy of its adapter, "ref"."""
    from peft import get_peft_model

    runs = []
    for cls, extra in ((DPOTrainer, {}), (LogicpoDPOTrainer, {"loss": "sigmoid"})):
        policy = tiny_hf.model(0)
        torch.manual_seed(0)
        model = get_peft_model(policy, lora()) if wrapped else policy
        trainer = cls(model=model, args=tiny_hf.dpo_config(tmp_path / cls.__name__),
                      train_dataset=data, processing_class=tok,
                      **({} if wrapped else {"peft_config": lora()}), **extra)
        trainer.train()
        runs.append((trainer.state.log_history, adapter_weights(trainer)))
    (theirs, peer), (ours, mine) = runs
    assert_same_history(ours, theirs)
    assert peer.keys() == mine.keys() and len(mine) == 4 * (2 if wrapped else 1)
    for name in peer:
        torch.testing.assert_close(mine[name], peer[name], rtol=1e-5, atol=1e-7, msg=name)


def test_a_reference_free_loss_keeps_no_reference_adapter(tok, data, tmp_path):
    from peft import get_peft_model

    model = get_peft_model(tiny_hf.model(0), lora())
    trainer = LogicpoDPOTrainer(model=model, args=tiny_hf.dpo_config(tmp_path),
                                train_dataset=data, processing_class=tok, loss="simpo")
    assert list(trainer.model.peft_config) == ["default"] and trainer.ref_model is None
    forwards = count_calls(trainer.model)
    trainer.train()
    assert len(forwards) == 4  # no forward with the adapters disabled


# ---------------------------------------------------------------- rewards


def sequence_logp(model, tok, prompt, response):
    """Sum of log softmax(logits)[next token] over the response and its EOS, by hand."""
    prompt_ids = tok(prompt)["input_ids"]
    ids = torch.tensor(tok(prompt + response + tok.eos_token)["input_ids"])
    with torch.no_grad():
        logp = F.log_softmax(model(ids[None]).logits[0, :-1].float(), -1)
    picked = logp[torch.arange(len(ids) - 1), ids[1:]]
    return picked[len(prompt_ids) - 1:].sum().item(), len(ids) - len(prompt_ids)


@pytest.mark.parametrize("spec", ["ipo", "sigmoid_norm"])
def test_length_normalised_rewards_are_per_token_log_ratios(spec, tok, data, tmp_path):
    """eval rewards/chosen = mean_i beta*(pc_i/n_i - rc_i/n_i), from a plain forward pass."""
    policy, ref = tiny_hf.model(0), tiny_hf.model(1)
    trainer = LogicpoDPOTrainer(model=policy, ref_model=ref, args=tiny_hf.dpo_config(tmp_path),
                                train_dataset=data, eval_dataset=tiny_hf.preferences(2),
                                processing_class=tok, loss=spec)
    metrics = trainer.evaluate()
    expected = {"chosen": [], "rejected": [], "logps": []}
    for i in range(2):
        for side, response in (("chosen", tiny_hf.CHOSEN[i]), ("rejected", tiny_hf.REJECTED[i])):
            pc, n = sequence_logp(policy, tok, tiny_hf.PROMPTS[i], response)
            rc, _ = sequence_logp(ref, tok, tiny_hf.PROMPTS[i], response)
            expected[side].append(0.1 * (pc / n - rc / n))
            if side == "chosen":
                expected["logps"].append(pc)
    assert metrics["eval_logps/chosen"] == pytest.approx(sum(expected["logps"]) / 2, rel=1e-5)
    for side in ("chosen", "rejected"):
        assert metrics[f"eval_rewards/{side}"] == pytest.approx(sum(expected[side]) / 2,
                                                                rel=1e-4, abs=1e-7)


def test_simpo_rewards_and_losses_are_trl_cpo_trainers():
    """TRL's CPOTrainer.cpo_loss (loss_type='simpo') on per-token mean log-probs."""
    from types import SimpleNamespace

    from trl.experimental.cpo import CPOTrainer

    pc, pr = torch.tensor([-6.0, -2.5, -9.0]), torch.tensor([-4.0, -7.5, -3.0])
    nc, nr = torch.tensor([3.0, 5.0, 4.0]), torch.tensor([2.0, 6.0, 1.0])
    peer = SimpleNamespace(alpha=0.0, beta=2.0, simpo_gamma=0.5, label_smoothing=0.0,
                           loss_type="simpo", accelerator=SimpleNamespace(device="cpu"))
    losses, chosen, rejected = CPOTrainer.cpo_loss(peer, pc / nc, pr / nr)
    out = logicpo.loss("simpo", beta=2.0)(pc, pr, chosen_lengths=nc, rejected_lengths=nr)
    torch.testing.assert_close(out.losses, losses)
    torch.testing.assert_close(out.chosen_rewards, chosen)
    torch.testing.assert_close(out.rejected_rewards, rejected)


# ---------------------------------------------------------------- reference-free losses


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda m, args, out: calls.append(out))
    return calls


def test_a_logicpo_only_loss_is_the_loss_of_every_step_and_runs_no_reference(tok, data,
                                                                             tmp_path):
    """cCPO is in no trainer's loss_type. The policy is built in memory, so TRL could not
    reload it as a reference; one policy forward per micro-batch, none more."""
    loss = logicpo.loss("logistic(cCPO, beta=1, normalize=length)")
    calls = count_calls(loss)
    policy = tiny_hf.model(0)
    forwards = count_calls(policy)
    trainer = LogicpoDPOTrainer(model=policy, args=tiny_hf.dpo_config(tmp_path),
                                train_dataset=data, processing_class=tok, loss=loss)
    assert trainer.ref_model is None
    trainer.train()
    assert len(calls) == len(forwards) == 4  # 2 steps x 2 micro-batches
    steps = [h for h in trainer.state.log_history if "loss" in h]
    for k, step in enumerate(steps):  # the logged loss is the mean of the module's losses
        micro = [calls[2 * k].losses.mean().item(), calls[2 * k + 1].losses.mean().item()]
        assert step["loss"] == pytest.approx(sum(micro) / 2, rel=1e-6)
        # reference-free rewards: beta * per-token log-prob of the policy, beta = 1
        assert step["rewards/chosen"] < 0 and step["logps/chosen"] < step["rewards/chosen"]
    assert any(not torch.equal(p, q) for p, q in
               zip(policy.parameters(), tiny_hf.model(0).parameters(), strict=True))


def test_a_reference_free_loss_loads_only_the_policy_from_a_path(tok, data, tmp_path,
                                                                  monkeypatch):
    tiny_hf.model(0).save_pretrained(tmp_path / "policy")
    loads = []
    load = trl_dpo.create_model_from_path

    def counting(model_id, *args, **kwargs):
        loads.append(model_id)
        return load(model_id, *args, **kwargs)

    monkeypatch.setattr(trl_dpo, "create_model_from_path", counting)
    trainer = LogicpoDPOTrainer(model=str(tmp_path / "policy"),
                                args=tiny_hf.dpo_config(tmp_path / "out"), train_dataset=data,
                                processing_class=tok, loss="simpo")
    assert loads == [str(tmp_path / "policy")] and trainer.ref_model is None
    forwards = count_calls(trainer.model)
    trainer.train()
    assert len(forwards) == 4
    assert trl_dpo.create_model_from_path is counting  # TRL's loader is given back


def test_trl_alone_would_load_a_reference_for_the_same_setup(tok, data, tmp_path, monkeypatch):
    """Why the trainer steps in: TRL 1.x reloads the policy as reference with ref_model=None."""
    tiny_hf.model(0).save_pretrained(tmp_path / "policy")
    loads = []
    load = trl_dpo.create_model_from_path
    monkeypatch.setattr(trl_dpo, "create_model_from_path",
                        lambda mid, *a, **k: loads.append(mid) or load(mid, *a, **k))
    DPOTrainer(model=str(tmp_path / "policy"), args=tiny_hf.dpo_config(tmp_path / "out"),
               train_dataset=data, processing_class=tok)
    assert loads == [str(tmp_path / "policy")] * 2


# ---------------------------------------------------------------- refusals at construction


def construct(tok, data, tmp_path, loss="sigmoid", model=None, **config):
    ref = config.pop("ref_model", None)
    return LogicpoDPOTrainer(model=tiny_hf.model(0) if model is None else model,
                             ref_model=ref, args=tiny_hf.dpo_config(tmp_path, **config),
                             train_dataset=data, processing_class=tok, loss=loss)


@pytest.mark.parametrize(("setting", "needle"), [
    ({"loss_type": ["hinge"]}, "DPOConfig.loss_type=['hinge'] does not apply"),
    ({"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 1.0]}, "DPOConfig.loss_type="),
    ({"loss_weights": [0.5]}, "DPOConfig.loss_weights=[0.5] does not apply"),
    ({"beta": 0.2}, "DPOConfig.beta=0.2 does not apply: loss= decides"),
    ({"label_smoothing": 0.1}, "DPOConfig.label_smoothing=0.1 does not apply"),
    ({"discopop_tau": 0.1}, "DPOConfig.discopop_tau=0.1 does not apply"),
    ({"ld_alpha": 0.5}, "DPOConfig.ld_alpha=0.5 is not supported"),
    ({"use_weighting": True}, "DPOConfig.use_weighting=True is not supported"),
    ({"f_divergence_type": "js_divergence"}, "DPOConfig.f_divergence_type='js_divergence'"),
    ({"f_alpha_divergence_coef": 0.3}, "DPOConfig.f_alpha_divergence_coef=0.3 is not"),
])
def test_settings_the_loss_would_override_are_refused(setting, needle, tok, data, tmp_path):
    with pytest.raises(IntegrationError) as info:
        construct(tok, data, tmp_path, ref_model=tiny_hf.model(1), **setting)
    assert needle in str(info.value)


@pytest.mark.parametrize("setting", ["precompute_ref_log_probs", "sync_ref_model"])
def test_reference_settings_are_refused_for_a_reference_free_loss(setting, tok, data, tmp_path):
    with pytest.raises(IntegrationError, match=f"{setting}=True, but the loss 'logistic.*"
                                               "uses no reference model"):
        construct(tok, data, tmp_path, loss="simpo", **{setting: True})


def test_a_reference_model_for_a_reference_free_loss_is_refused(tok, data, tmp_path):
    with pytest.raises(IntegrationError, match="ref_model is given, but the loss"):
        construct(tok, data, tmp_path, loss="orpo", ref_model=tiny_hf.model(1))


def test_an_in_memory_policy_needs_a_reference_for_a_reference_loss(tok, data, tmp_path):
    with pytest.raises(IntegrationError, match="built in memory.*ref_model=copy.deepcopy"):
        construct(tok, data, tmp_path, loss="sigmoid")


@pytest.mark.parametrize("version", ["1.14.2", "0.29.1", "1.17.0", "1.16.1.dev0", "2.0.0"])
def test_unverified_trl_versions_are_refused(version, tok, data, tmp_path, monkeypatch):
    monkeypatch.setattr(integration.trl, "__version__", version)
    with pytest.raises(IntegrationError, match=rf"TRL {version} is not supported.*>=1.15.0,<1.17"):
        construct(tok, data, tmp_path, ref_model=tiny_hf.model(1))


def test_the_verified_versions_pass():
    for version in ("1.15.0", "1.16.0", "1.16.3"):
        integration.check_trl_version(version)


class NoLengths(torch.nn.Module):
    uses_reference, needs_lengths, beta = True, False, 0.1

    def forward(self, policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                reference_rejected_logps):
        raise AssertionError("never called")


@pytest.mark.parametrize(("loss", "error", "needle"), [
    (None, IntegrationError, "needs loss="),
    ("sigmodi", NameResolutionError, "unknown loss 'sigmodi'"),
    (torch.nn.MSELoss(), IntegrationError, "MSELoss is not a logicpo loss module"),
    (NoLengths, IntegrationError, "does not take chosen_lengths, rejected_lengths"),
])
def test_a_loss_that_is_not_a_logicpo_loss_is_refused(loss, error, needle, tok, data, tmp_path):
    with pytest.raises(error) as info:
        construct(tok, data, tmp_path, loss=loss, ref_model=tiny_hf.model(1))
    assert needle in str(info.value) and isinstance(info.value, LogicpoError)
