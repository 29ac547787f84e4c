"""logicpo.loss: specs, parameter precedence, module attributes, rewards and errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import logicpo
from logicpo.errors import (
    DefinitionError,
    DegenerateStructureError,
    LogicpoError,
    NameResolutionError,
    ParseError,
    UsageError,
)
from logicpo.numbers.module import CompiledLoss, LossInputError, LossOutput


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


PC, PR, RC, RR = t(-1.2, -0.4), t(-2.3, -0.9), t(-1.5, -0.6), t(-1.9, -0.5)


# ---------------------------------------------------------------- specs


def test_zoo_name_structure_name_inline_and_file(tmp_path):
    assert isinstance(logicpo.loss("sigmoid"), CompiledLoss)
    assert isinstance(logicpo.loss("DPO"), torch.nn.Module)
    inline = logicpo.loss("0.8*sigmoid + 0.2*bco_pair + 1.0*sft")
    assert inline.source == ("0.8*logistic(DPO, beta=0.1) + 0.2*logistic(W, beta=0.1) + "
                             "0.2*logistic(flip(L), beta=0.1) + logistic(CE, beta=1)")
    path = tmp_path / "mine.lpo"
    path.write_text("objective mine = hinge(CPO, beta=0.5) + 0.5*sft\n", encoding="utf-8")
    mine = logicpo.loss(f"{path}:mine")
    x = PC - PR
    torch.testing.assert_close(mine(PC, PR).losses, torch.relu(1 - 0.5 * x) - 0.5 * PC,
                               rtol=1e-12, atol=0)


def test_loss_output_is_the_public_named_tuple():
    out = logicpo.loss("sigmoid")(PC, PR, RC, RR)
    assert isinstance(out, logicpo.LossOutput) and logicpo.LossOutput is LossOutput
    assert out._fields == ("losses", "chosen_rewards", "rejected_rewards")
    losses, chosen, rejected = out
    assert losses.shape == (2,)


def test_attributes_other_code_relies_on():
    m = logicpo.loss("ipo", beta=0.2)
    assert (m.uses_reference, m.needs_lengths, m.spec) == (True, True, "ipo")
    assert m.source == "square(DPO, beta=0.2, normalize=length)"
    assert m.params == {"beta": 0.2, "normalize": "length"}
    m = logicpo.loss("simpo")
    assert (m.uses_reference, m.needs_lengths) == (False, True)
    assert m.params["gamma"] == 0.5 and m.params["beta"] == 0.1
    m = logicpo.loss("cpo_full")
    assert (m.uses_reference, m.needs_lengths) == (False, False)


def test_source_compiles_back_to_the_same_loss():
    for name in ("sigmoid", "simpo", "nca_pair", "orpo_full", "apo_down", "unCPO"):
        m = logicpo.loss(name, beta=0.3)
        again = logicpo.loss(m.source)
        xs = (PC, PR, RC, RR, t(3.0, 5.0), t(2.0, 4.0))
        assert torch.equal(m(*xs).losses, again(*xs).losses), name


# ---------------------------------------------------------------- parameter precedence


def test_trl_names_default_to_trls_beta_structures_to_the_papers():
    assert logicpo.loss("sigmoid").params["beta"] == 0.1
    assert logicpo.loss("DPO").params["beta"] == 1.0
    assert logicpo.loss("hinge(CPO)").params["beta"] == 0.1
    d = (PC - RC) - (PR - RR)
    torch.testing.assert_close(logicpo.loss("DPO")(PC, PR, RC, RR).losses, -F.logsigmoid(d),
                               rtol=1e-12, atol=0)


def test_runtime_values_override_the_dsl_except_a_written_beta():
    """simpo writes gamma=0.5 and exo_pair label_smoothing=0.001: both overridable.
    sft writes beta=1 (the NLL) and orpo beta=1 (TRL applies beta outside): kept."""
    assert logicpo.loss("simpo", gamma=1.5).params["gamma"] == 1.5
    assert logicpo.loss("exo_pair", label_smoothing=0.01).params["label_smoothing"] == 0.01
    torch.testing.assert_close(logicpo.loss("sft", beta=0.1)(PC, PR).losses, -PC)
    cpo_full = logicpo.loss("cpo_full", beta=0.5)
    expected = -F.logsigmoid(0.5 * (PC - PR)) - PC
    torch.testing.assert_close(cpo_full(PC, PR).losses, expected, rtol=1e-12, atol=0)
    assert logicpo.loss("ipo", normalize="none").needs_lengths is False
    assert logicpo.loss("sigmoid", normalize="length").needs_lengths is True


def test_f_chooses_the_family_of_a_bare_structure():
    m = logicpo.loss("CPO", f="hinge", beta=0.1)
    assert m.source == "hinge(CPO, beta=0.1)" and m.params["f"] == "hinge"
    torch.testing.assert_close(m(PC, PR).losses, torch.relu(1 - 0.1 * (PC - PR)))


def test_rewards_as_trl_logs_them():
    out = logicpo.loss("sigmoid", beta=0.5)(PC.requires_grad_(), PR, RC, RR)
    PC.requires_grad_(False)
    torch.testing.assert_close(out.chosen_rewards, 0.5 * (PC - RC))
    torch.testing.assert_close(out.rejected_rewards, 0.5 * (PR - RR))
    assert not out.chosen_rewards.requires_grad and out.losses.requires_grad
    out = logicpo.loss("CPO", beta=0.2)(PC, PR)
    torch.testing.assert_close(out.chosen_rewards, 0.2 * PC)
    torch.testing.assert_close(out.rejected_rewards, 0.2 * PR)


def test_length_normalised_rewards_are_beta_times_per_token_log_probs():
    """simpo, beta=2: rewards 2*pc/nc and 2*pr/nr (TRL CPOTrainer's SimPO convention);
    sigmoid_norm, beta=0.1: 0.1*(pc/nc - rc/nc). By hand: 2*(-1.2/3) = -0.8,
    2*(-2.3/4) = -1.15; 0.1*((-1.2 + 1.5)/3) = 0.01, 0.1*((-0.9 + 0.5)/3) = -0.01333."""
    nc, nr = t(3.0, 2.0), t(4.0, 3.0)
    out = logicpo.loss("simpo", beta=2.0)(PC, PR, chosen_lengths=nc, rejected_lengths=nr)
    torch.testing.assert_close(out.chosen_rewards, t(-0.8, -0.4))
    torch.testing.assert_close(out.rejected_rewards, t(-1.15, -0.6))
    out = logicpo.loss("sigmoid_norm")(PC, PR, RC, RR, nc, nr)
    torch.testing.assert_close(out.chosen_rewards, t(0.01, 0.01))
    torch.testing.assert_close(out.rejected_rewards, t(-0.01, -0.04 / 3))
    # an NLL term divided only when lengths are given leaves the rewards summed
    out = logicpo.loss("cpo_full", beta=0.5)(PC, PR, chosen_lengths=nc, rejected_lengths=nr)
    torch.testing.assert_close(out.chosen_rewards, t(-0.6, -0.2))


def test_reference_free_losses_ignore_reference_tensors():
    m = logicpo.loss("simpo")
    n = (t(3.0, 4.0), t(5.0, 6.0))
    assert torch.equal(m(PC, PR, None, None, *n).losses, m(PC, PR, RC, RR, *n).losses)


# ---------------------------------------------------------------- errors


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(NameResolutionError) as err:
        logicpo.loss("sigmod")
    assert "sigmoid" in str(err.value) and "simpo" in str(err.value) and "DPO" in str(err.value)
    assert err.value.hint.startswith("did you mean 'sigmoid'")


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(NameResolutionError, match="valid: beta, gamma, label_smoothing, tau, "
                                                  "normalize, f") as err:
        logicpo.loss("sigmoid", betta=0.1)
    assert err.value.hint == "did you mean 'beta'?"
    with pytest.raises(NameResolutionError, match="'tau' does not apply to 'sigmoid'"):
        logicpo.loss("sigmoid", tau=0.1)


def test_bad_values_and_misplaced_f():
    with pytest.raises(DefinitionError, match="beta must be positive"):
        logicpo.loss("sigmoid", beta=-1.0)
    with pytest.raises(DefinitionError, match="normalize"):
        logicpo.loss("sigmoid", normalize="tokens")
    with pytest.raises(UsageError, match="bare structure"):
        logicpo.loss("sigmoid", f="hinge")
    with pytest.raises(NameResolutionError, match="valid: logistic, hinge"):
        logicpo.loss("CPO", f="hinj")
    with pytest.raises(ParseError):
        logicpo.loss("0.5* + hinge(")


def test_degenerate_structure_is_reported_not_computed(tmp_path):
    path = tmp_path / "d.lpo"
    path.write_text("structure Z { ok: M(yw)  bad: false }\n", encoding="utf-8")
    with pytest.raises(DegenerateStructureError, match="bad is empty"):
        logicpo.loss(f"{path}:Z")


def test_missing_reference_names_the_arguments_and_shapes():
    m = logicpo.loss("sigmoid")
    with pytest.raises(LossInputError, match=r"loss 'sigmoid' uses the reference model: "
                       r"reference_chosen_logps and reference_rejected_logps are missing "
                       r"\(expected shape \(2,\)\)"):
        m(PC, PR)
    with pytest.raises(LossInputError, match="reference_rejected_logps is missing"):
        m(PC, PR, RC)
    assert issubclass(LossInputError, LogicpoError)


def test_shape_mismatch_names_the_argument():
    with pytest.raises(LossInputError, match=r"reference_rejected_logps has shape \(3,\) but "
                                             r"policy_chosen_logps has shape \(2,\)"):
        logicpo.loss("sigmoid")(PC, PR, RC, t(1.0, 2.0, 3.0))


def test_missing_lengths_where_normalize_length_needs_them():
    with pytest.raises(LossInputError, match=r"loss 'simpo' is length-normalised "
                                             r"\(normalize=length\): rejected_lengths is missing"):
        logicpo.loss("simpo")(PC, PR, chosen_lengths=t(3.0, 4.0))


def test_wrong_types():
    with pytest.raises(LossInputError, match="policy_rejected_logps must be a torch.Tensor, "
                                             "not list"):
        logicpo.loss("CPO")(PC, [-1.0, -2.0])
    with pytest.raises(LossInputError, match="floating-point"):
        logicpo.loss("CPO")(torch.tensor([-1, -2]), torch.tensor([-1, -2]))


def test_compiled_losses_pickle_and_deepcopy(tmp_path):
    import copy
    import pickle

    m = logicpo.loss("simpo", beta=2.0)
    n = (t(3.0, 2.0), t(4.0, 3.0))
    for again in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert again.source == m.source and again.params == m.params
        assert torch.equal(again(PC, PR, None, None, *n).losses, m(PC, PR, None, None, *n).losses)
    torch.save(m, tmp_path / "m.pt")
    loaded = torch.load(tmp_path / "m.pt", weights_only=False)
    assert torch.equal(loaded(PC, PR, None, None, *n).losses, m(PC, PR, None, None, *n).losses)


def test_generated_code_is_visible_to_inspect():
    import inspect

    # beta = 0.1 is in the shared log-ratios, which the rewards reuse
    source = inspect.getsource(type(logicpo.loss("sigmoid")).compute)
    assert "lr_c = 0.1 * (pc - rc)" in source and "F.softplus(lr_r - lr_c)" in source
