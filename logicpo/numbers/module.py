"""The runtime of every compiled loss: ``LossOutput``, stable log-space helpers, ``CompiledLoss``.

A compiled loss is a subclass of :class:`CompiledLoss` whose ``compute`` method the
code generator writes for one objective (see :mod:`logicpo.numbers.codegen`).
This file needs only torch: ``logicpo export`` copies it, minus the lines marked
``logicpo-only``, into standalone files.

**Inputs.** A loss over the classic atoms ``M(yw), M(yl), Ref(yw), Ref(yl)`` takes TRL's
positional arguments ``(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
reference_rejected_logps, chosen_lengths, rejected_lengths)``. Every loss, classic or not,
also takes one log-prob tensor per atom it reads and one token count per response, by name:
``loss_fn(logps={"M(yw)": pc, "M(yl)": pr, "M(yg)": pg}, lengths={"yg": ng})``.
``loss_fn.atoms`` and ``loss_fn.responses`` say which (the log-probs to compute, exactly);
``loss_fn.lengths_required`` which token counts must be given. A loss over other atoms
(``M(yg)``, ``Ref(ys)``, ``M(yl2)``, ...) has no positional form: called positionally it
raises :class:`LossInputError` naming its atoms. A missing or unknown key, a tensor of
another shape or a non-float tensor is a :class:`LossInputError` too.

**Rewards** (the detached diagnostics TRL logs). Chosen rewards are about the winner ``yw``,
rejected rewards about the loser ``yl``, as in TRL, for every loss: ``beta`` times the
log-ratio ``M(y) - Ref(y)`` when the loss reads both atoms of that response, else ``beta``
times the policy's log-prob ``M(y)``; per token when that response's token count is
required (a length-normalised term reads it). For the classic losses this is today's rule
(TRL's ``beta * (pc - rc)``, or ``beta * pc`` for reference-free losses). A loss that reads
no policy log-prob of ``yw`` (or ``yl``), such as a cross-entropy on a gold response alone,
has rewards 0 on that side: there is no log-prob of that response to report.

>>> import torch
>>> log1mexp(torch.tensor([-1e-20, -0.5, -5.0], dtype=torch.float64))
tensor([-4.6052e+01, -9.3275e-01, -6.7607e-03], dtype=torch.float64)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F  # noqa: F401, N812 (used by the generated code)
from torch import nn
from torch.nn.modules import module as _nn_module

# logicpo-only: begin
from logicpo.errors import LogicpoError as _ErrorBase

# logicpo-only: end

_LOW_PRECISION = (torch.float16, torch.bfloat16)
_FAST_DTYPES = (torch.float32, torch.float64)
_Tensor = torch.Tensor
_new_output = tuple.__new__  # LossOutput(a, b, c) without its Python-level __new__
_module_call = nn.Module.__call__
_tracing = torch._C._get_tracing_state
# torch's global module hooks (register_module_forward_hook, ...): dicts changed in place
_GLOBAL_HOOKS = (_nn_module._global_forward_pre_hooks, _nn_module._global_forward_hooks,
                 _nn_module._global_backward_pre_hooks, _nn_module._global_backward_hooks)

#: The classic atoms, whose log-probs the positional arguments carry in this order. Spelled
#: as ``logicpo.logic.atoms.ATOMS_REF`` spells them, written out because this file needs only
#: torch; tests/test_multi_numbers.py holds the two equal.
CLASSIC_ATOMS = ("M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)")


class LossInputError(_ErrorBase, ValueError):
    """The tensors given to a compiled loss do not fit it (missing, wrong shape or type)."""


class LossOutput(NamedTuple):
    """Per-example losses ``(B,)`` and the detached rewards TRL logs, each ``(B,)``."""

    losses: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor


class _Log1mexp(torch.autograd.Function):
    """``log(1 - e^x)``, with a hand-derived backward (see :func:`log1mexp`). One tensor in
    and out: at batch 64 the Python of a varargs forward and backward (tuples, a generator,
    ``zip``) cost about 2 us a call, as much as the three kernels."""

    @staticmethod
    def forward(ctx, x):
        one_minus = torch.expm1(x).neg_()  # 1 - e^x, to rounding near x = 0
        # an intermediate, not an input or output: kept on ctx (cheaper than
        # save_for_backward); the input is saved for a backward that is differentiated
        ctx.one_minus = one_minus
        ctx.save_for_backward(x)
        return torch.log(one_minus)

    @staticmethod
    def backward(ctx, grad):
        # d/dx log(1 - e^x) = -e^x / (1 - e^x) = 1 - 1/(1 - e^x); at x = 0 the clamp gives
        # 1 - 1/tiny, finite, so that a zero upstream gradient stays zero (never 0 * inf)
        if torch.is_grad_enabled():  # create_graph: the same formula, differentiable in x
            return _log1mexp_grad(ctx.saved_tensors[0], grad)
        m = ctx.one_minus
        return torch.addcdiv(grad, grad, m.clamp(min=_TINY[m.dtype]), value=-1.0)


class _Log1mexpMany(torch.autograd.Function):
    """:class:`_Log1mexp` of several tensors in one autograd node (ORPO's ``pc`` and ``pr``),
    so a loss pays the node's Python overhead once."""

    @staticmethod
    def forward(ctx, *xs):
        one_minus = [torch.expm1(x).neg_() for x in xs]
        ctx.one_minus = one_minus
        ctx.save_for_backward(*xs)
        return tuple(torch.log(m) for m in one_minus)

    @staticmethod
    def backward(ctx, *grads):
        if torch.is_grad_enabled():
            return tuple(_log1mexp_grad(x, grad)
                         for x, grad in zip(ctx.saved_tensors, grads, strict=True))
        return tuple(torch.addcdiv(grad, grad, m.clamp(min=_TINY[m.dtype]), value=-1.0)
                     for grad, m in zip(grads, ctx.one_minus, strict=True))


class _NegLog1mexp(torch.autograd.Function):
    """``-log(1 - e^x)``: :class:`_Log1mexp` negated inside the same node, so that a loss
    that is ``-log1mexp(pr)`` (fUnl, CEUnl) pays for no negation node of its own (at batch
    64 an autograd node costs about as much as its kernels)."""

    @staticmethod
    def forward(ctx, x):
        one_minus = torch.expm1(x).neg_()  # 1 - e^x, to rounding near x = 0
        ctx.one_minus = one_minus
        ctx.save_for_backward(x)
        return torch.log(one_minus).neg_()

    @staticmethod
    def backward(ctx, grad):
        # d/dx -log(1 - e^x) = 1/(1 - e^x) - 1; finite at x = 0 as in _Log1mexp
        if torch.is_grad_enabled():
            return -_log1mexp_grad(ctx.saved_tensors[0], grad)
        m = ctx.one_minus
        return torch.addcdiv(grad.neg(), grad, m.clamp(min=_TINY[m.dtype]))


class _NegLog1mexpMany(torch.autograd.Function):
    """:class:`_NegLog1mexp` of several tensors in one autograd node."""

    @staticmethod
    def forward(ctx, *xs):
        one_minus = [torch.expm1(x).neg_() for x in xs]
        ctx.one_minus = one_minus
        ctx.save_for_backward(*xs)
        return tuple(torch.log(m).neg_() for m in one_minus)

    @staticmethod
    def backward(ctx, *grads):
        if torch.is_grad_enabled():
            return tuple(-_log1mexp_grad(x, grad)
                         for x, grad in zip(ctx.saved_tensors, grads, strict=True))
        return tuple(torch.addcdiv(grad.neg(), grad, m.clamp(min=_TINY[m.dtype]))
                     for grad, m in zip(grads, ctx.one_minus, strict=True))


class _LogAddExpLog1mexp(torch.autograd.Function):
    """``logaddexp(a, b + log1mexp(x))`` (no ``b`` when it is None), negated when
    ``negate``: see :func:`logaddexp_log1mexp`. The differences to the result the backward
    exponentiates are kept from the forward; the inputs are saved for a backward that is
    itself differentiated (``create_graph=True``)."""

    @staticmethod
    def forward(ctx, a, x, b, negate):
        l = torch.log(torch.expm1(x).neg_())  # log(1 - e^x)  # noqa: E741
        if b is not None:
            l.add_(b)
        out = torch.logaddexp(a, l)
        # d out/da = e^(a - out), d out/db = e^(l - out), d out/dx = -e^(b + x - out); the
        # last is unbounded where 1 - e^x -> 0 and e^a is tiny (pr = 0, pc = -1e4): capped at
        # 1/tiny, the bound log1mexp's own backward has, so that it stays finite
        ctx.da, ctx.dl = a - out, l - out
        dx = (x - out).add_(b) if b is not None else x - out
        ctx.dx = dx.clamp_(max=_LOG_HUGE[dx.dtype])
        ctx.negate, ctx.has_b = negate, b is not None
        ctx.save_for_backward(a, x, b)
        return out.neg_() if negate else out

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():  # create_graph: the same formulas, differentiable
            return _logaddexp_log1mexp_grads(*ctx.saved_tensors, grad, ctx.negate)
        ga = torch.exp(ctx.da).mul_(grad)
        gx = torch.exp(ctx.dx).mul_(grad)
        gl = torch.exp(ctx.dl).mul_(grad) if ctx.has_b else None
        if ctx.negate:  # the loss is -out: every gradient flips, gx back to positive
            ga.neg_()
            if gl is not None:
                gl.neg_()
        else:
            gx.neg_()
        return ga, gx, gl, None


def _log1mexp_grad(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``grad * d/dx log(1 - e^x)``, capped as the fast backward caps it, written in torch
    operations that autograd differentiates: the backward of a backward (second derivatives,
    ``create_graph=True``), where the fast path's intermediates have no history."""
    return grad - grad / torch.expm1(x).neg().clamp(min=_TINY[x.dtype])


class _Log1mexpTransformable(torch.autograd.Function):
    """:func:`log1mexp` under ``torch.func`` transforms (``grad``, ``vmap``, ``jacrev``,
    ``jacfwd``, ``hessian``): the style of Function they need (``setup_context``, a vmap rule
    generated from its torch operations, a forward-mode ``jvp``), the same value bit for bit,
    and the capped derivative in torch operations on the saved input, so that it composes
    with itself to any order. Not the fast path: the transforms cost more than a node."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return torch.log(torch.expm1(x).neg())

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        return _log1mexp_grad(ctx.saved_tensors[0], grad)

    @staticmethod
    def jvp(ctx, tangent):
        return _log1mexp_grad(ctx.saved_tensors[0], tangent)


def _logaddexp_log1mexp_grads(a, x, b, grad, negate):
    """The gradients of :class:`_LogAddExpLog1mexp` in differentiable torch operations."""
    side = torch.log(torch.expm1(x).neg())  # b + log(1 - e^x)
    if b is not None:
        side = side + b
    out = torch.logaddexp(a, side)
    dx = x - out if b is None else x + b - out
    sign = -1.0 if negate else 1.0
    ga = sign * grad * torch.exp(a - out)
    gx = -sign * grad * torch.exp(dx.clamp(max=_LOG_HUGE[dx.dtype]))
    gb = None if b is None else sign * grad * torch.exp(side - out)
    return ga, gx, gb, None


_TINY = {t: torch.finfo(t).tiny for t in (torch.float16, torch.bfloat16, torch.float32,
                                          torch.float64)}
_LOG_HUGE = {t: -math.log(tiny) for t, tiny in _TINY.items()}  # log(1/tiny)

# torch.autograd.Function.apply is Python around this C entry point: a check for functorch
# transforms (vmap, grad), then unwrap_dead_wrappers on every argument (about 1.5 us of
# Python per call, a tenth of a 64-example loss's forward). log1mexp calls the C entry
# itself, with the same two steps, and keeps .apply under functorch and torch.compile.
try:
    _apply_c = super(torch.autograd.Function, _Log1mexp).apply
    _apply_neg_c = super(torch.autograd.Function, _NegLog1mexp).apply
    _apply_lae_c = super(torch.autograd.Function, _LogAddExpLog1mexp).apply
    _functorch_active = torch._C._are_functorch_transforms_active
    _unwrap_if_dead = torch._C._functorch.unwrap_if_dead
except AttributeError:  # a torch without them (an exported file elsewhere): .apply, same numbers
    _apply_c = None

    def _functorch_active() -> bool:
        return False


def log1mexp(x: torch.Tensor, *more: torch.Tensor):
    """``log(1 - exp(x))`` for ``x <= 0``: the log-weight of a negated atom. Given several
    tensors, returns a tuple (one autograd node for all of them).

    One branch-free evaluation, ``log(-expm1(x))``: ``expm1`` computes ``1 - e^x``
    to rounding, including near ``x = 0`` where ``1 - exp(x)`` would cancel, so the
    result is exact to within a few units of the last place of 1 at every ``x <= 0``
    (the accuracy that matters in log space, where it is added to log-probs). Below
    about ``-37`` in float64 (``-17`` in float32) ``log(1 - e^x) ~ -e^x`` is smaller than
    that rounding and comes out as 0 (relative accuracy is given up there, not absolute;
    the gradient, ``1 - 1/(1 - e^x) ~ -e^x``, keeps its absolute accuracy as well).

    At ``x = 0`` the value is ``-inf`` (the negated atom is certainly false) and the
    gradient is ``1 - 1/tiny`` (``tiny`` the smallest normal number of the dtype): finite,
    so that ``0 * gradient`` is 0 where the loss does not depend on this term (ORPO at
    ``pc = 0``). ``x > 0`` is not a log-probability and gives NaN.

    The backward is derived by hand (one fused ``addcdiv`` on the saved ``1 - e^x``)
    and checked with ``gradcheck`` in the tests; ``brute.py`` keeps an independent
    two-branch version as the reference. It is differentiable again (``create_graph=True``),
    and under ``torch.func`` transforms another Function with the same value and derivative
    takes over (``vmap``, ``grad``, ``jacfwd``, ``hessian`` work).

    >>> log1mexp(torch.tensor([-1e-20, -0.5, 0.0], dtype=torch.float64))
    tensor([-46.0517,  -0.9328,    -inf], dtype=torch.float64)
    >>> [y.item() for y in log1mexp(torch.tensor(-0.5), torch.tensor(-5.0))]
    [-0.9327521324157715, -0.006760749965906143]
    """
    if _functorch_active():
        transformable = _Log1mexpTransformable.apply
        return tuple(map(transformable, (x, *more))) if more else transformable(x)
    if more:
        return _Log1mexpMany.apply(x, *more)
    if _apply_c is None or torch.compiler.is_compiling():
        return _Log1mexp.apply(x)
    return _apply_c(_unwrap_if_dead(x))


def neg_log1mexp(x: torch.Tensor, *more: torch.Tensor):
    """``-log(1 - exp(x))`` for ``x <= 0``: :func:`log1mexp` negated, in the same autograd
    node (the code generator writes it where a loss reads a negated atom's log-weight only
    with a minus sign). The same numbers as ``-log1mexp(x)``, bit for bit, and the same
    gradient up to its sign: ``+inf`` at ``x = 0``, with the gradient ``1/tiny - 1``.

    >>> neg_log1mexp(torch.tensor([-1e-20, -0.5, 0.0], dtype=torch.float64))
    tensor([46.0517,  0.9328,     inf], dtype=torch.float64)
    """
    if torch.compiler.is_compiling() or _functorch_active():
        # the unfused form: the compiler fuses it itself, torch.func transforms need it
        return tuple(-y for y in log1mexp(x, *more)) if more else -log1mexp(x)
    if more:
        return _NegLog1mexpMany.apply(x, *more)
    if _apply_c is None:
        return _NegLog1mexp.apply(x)
    return _apply_neg_c(_unwrap_if_dead(x))


def logaddexp_log1mexp(a: torch.Tensor, x: torch.Tensor, b: torch.Tensor | None = None,
                       negate: bool = False) -> torch.Tensor:
    """``logaddexp(a, b + log1mexp(x))``, i.e. ``log(e^a + e^b (1 - e^x))`` (``b = 0`` when
    None), in one autograd node; ``-`` that when ``negate``. A count with a negated atom:
    unCPO's ``-log WMC(ok) = -logaddexp(pc + pr, log1mexp(pr))``, a link of the listwise
    chain ``logaddexp(pr, M_yl2 + log1mexp(pr))``.

    The value is ``torch.logaddexp`` of the stable ``log1mexp`` (the same numbers, bit for
    bit). The gradient is derived by hand: ``e^(a - out)`` and ``e^(b + log1mexp(x) - out)``,
    shares of ``e^out`` in ``[0, 1]``, and ``-e^(b + x - out)``, with no division by
    ``1 - e^x``. The last is unbounded where ``e^out`` vanishes as ``x -> 0`` (the exact
    gradient overflows there): it is capped at ``1/tiny`` of the dtype, as :func:`log1mexp`
    caps its own, so gradients stay finite. ``gradcheck`` in float64 checks it in the tests.

    >>> x = torch.tensor([-0.5, 0.0], dtype=torch.float64)
    >>> logaddexp_log1mexp(torch.tensor([-1.0, -1.0], dtype=torch.float64), x)
    tensor([-0.2727, -1.0000], dtype=torch.float64)
    """
    if torch.compiler.is_compiling() or _functorch_active():
        # the unfused form, the same numbers: a custom Function's ctx attributes cost
        # torch.compile its fusion (unCPO compiled 3.7x slower than eager with the node),
        # and torch.func transforms need log1mexp's transformable Function
        out = torch.logaddexp(a, log1mexp(x) if b is None else b + log1mexp(x))
        return -out if negate else out
    if _apply_c is None:
        return _LogAddExpLog1mexp.apply(a, x, b, negate)
    return _apply_lae_c(_unwrap_if_dead(a), _unwrap_if_dead(x),
                        None if b is None else _unwrap_if_dead(b), negate)


def logsumexp_worlds(columns: torch.Tensor, *literals: torch.Tensor) -> torch.Tensor:
    """``log sum_j exp(sum_p literals[columns[j, p]])``: the log weighted model count of a
    region enumerated world by world (one without a factorised form). ``literals`` are the
    ``n`` atoms' log-probs then their ``log1mexp`` values, each ``(B,)``; row ``j`` of ``columns``
    ``(W, n)`` picks, for each atom, its true (``p``) or false (``n + p``) literal in world
    ``j``. Every term is a sum of log-weights, so nothing cancels; indexing, unlike a 0/1
    matrix product, never multiplies ``log1mexp(0) = -inf`` by 0.

    >>> x = torch.tensor([-0.5], dtype=torch.float64)
    >>> worlds = logsumexp_worlds(torch.tensor([[0], [1]]), x, log1mexp(x))  # a | ~a
    >>> round(worlds.item(), 12) + 0.0
    0.0
    """
    stacked = torch.stack(literals, dim=-1)  # (B, 2n)
    return torch.logsumexp(stacked[..., columns.to(stacked.device)].sum(-1), dim=-1)  # (B,)


def _shape(t) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + (",)" if t.dim() == 1 else ")")


class CompiledLoss(nn.Module):
    """Base class of generated losses: checks the inputs, computes, adds the rewards.

    Subclasses set the class attributes below and write ``compute``, which
    returns the per-example losses from the log-probs (all of one shape) and the two
    quantities the rewards scale by ``beta`` (see ``_rewards``).
    """

    spec: str = ""
    source: str = ""
    uses_reference: bool = False
    needs_lengths: bool = False
    beta: float = 1.0
    #: ``compute`` returns the rewards' log-ratios times beta (shared with the loss)
    rewards_scaled: bool = False
    params: dict = {}
    #: reads only the classic atoms, so it takes the positional call; a generated loss over
    #: other atoms sets ``classic = False`` and the four attributes below
    classic: bool = True
    #: responses whose token counts must be given (a length-normalised term reads them)
    lengths_required: tuple[str, ...] = ()
    #: every log weighted model count has a factorised form (none is a sum over all worlds)
    factorised: bool = True

    @property
    def atoms(self) -> tuple[str, ...]:
        """The atoms whose log-probs the loss reads, in the order ``compute`` takes them."""
        return CLASSIC_ATOMS if self.uses_reference else CLASSIC_ATOMS[:2]

    @property
    def responses(self) -> tuple[str, ...]:
        """The responses those atoms judge (the keys of ``lengths=``)."""
        return ("yw", "yl")

    #: ``__call__`` may compute inline what ``forward`` would (see ``__init_subclass__``)
    _inline: bool = True
    #: the positional call computed inline: 0 (never), 1 (reference-free), 2 (reference)
    _positional: int = 0
    #: set by ``nn.Module.__init__`` in the torch versions that have ``module.compile()``
    _compiled_call_impl = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # a subclass with its own forward or rewards gets them called, as nn.Module promises
        cls._inline = (cls.forward is CompiledLoss.forward
                       and cls._rewards is CompiledLoss._rewards)
        cls._positional = (1 + cls.uses_reference) if cls._inline and cls.classic else 0

    def __init__(self) -> None:
        super().__init__()
        self.params = dict(type(self).params)

    def compute(self, pc, pr, rc, rr, nc, nr) -> tuple:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, policy_chosen_logps=None, policy_rejected_logps=None,
                 reference_chosen_logps=None, reference_rejected_logps=None,
                 chosen_lengths=None, rejected_lengths=None, *, logps=None, lengths=None):
        """``forward``, with a fast path for TRL's positional call: at batch 64 a loss's
        forward and backward take 25-70 us, and ``nn.Module.__call__``, the input checks and
        the named tuple took 3 of them. When no hook, ``module.compile()`` or ``jit.trace``
        is in play and the inputs are what ``forward`` would accept without a word (tensors,
        not subclasses, of one shape; float32 or float64), this computes exactly what
        ``forward`` does, inline; anything else goes through ``nn.Module.__call__`` to
        ``forward`` (hooks see the positional arguments up to the last one given, and
        ``logps=``/``lengths=`` when given)."""
        pc, pr = policy_chosen_logps, policy_rejected_logps
        nc, nr = chosen_lengths, rejected_lengths
        # the checks in order of cost, each once: _positional is 1 (reference-free) or 2
        # (reads the reference) for a classic loss that computes inline, else 0
        mode = self._positional
        if (mode and logps is None and lengths is None
                and type(pc) is _Tensor and type(pr) is _Tensor and pc.dtype in _FAST_DTYPES
                and (shape := pc.shape) == pr.shape
                and (nc is None and nr is None and not self.needs_lengths
                     or type(nc) is _Tensor and type(nr) is _Tensor and nc.shape == shape
                     and nr.shape == shape)
                and self._compiled_call_impl is None and _tracing() is None
                and not (self._forward_pre_hooks or self._forward_hooks
                         or self._backward_pre_hooks or self._backward_hooks
                         or _GLOBAL_HOOKS[0] or _GLOBAL_HOOKS[1] or _GLOBAL_HOOKS[2]
                         or _GLOBAL_HOOKS[3])):  # as _uncaught, inline
            rc, rr = reference_chosen_logps, reference_rejected_logps
            if mode == 1 or (type(rc) is _Tensor and type(rr) is _Tensor
                             and rc.shape == shape and rr.shape == shape):
                losses, chosen, rejected = self.compute(pc, pr, rc, rr, nc, nr)  # (B,) each
                beta = self.beta
                if beta == 1.0 or self.rewards_scaled:  # as _rewards
                    return _new_output(LossOutput, (losses, chosen.detach(), rejected.detach()))
                return _new_output(LossOutput, (losses, chosen.detach() * beta,
                                                rejected.detach() * beta))
        rc, rr = reference_chosen_logps, reference_rejected_logps
        if (logps is not None and not self.classic and self._inline and pc is None
                and pr is None and rc is None and rr is None and nc is None and nr is None
                and self._uncaught()):
            # the same fast path for a loss over more atoms, called by name (the trainer's
            # call): exactly what forward does, without nn.Module.__call__
            return self._forward_named(logps, lengths)
        args = [pc, pr, rc, rr, nc, nr]
        while args and args[-1] is None:
            args.pop()
        named = {k: v for k, v in (("logps", logps), ("lengths", lengths)) if v is not None}
        return _module_call(self, *args, **named)

    def _uncaught(self) -> bool:
        """Whether nothing would see this call inside ``nn.Module.__call__``: no hook (the
        module's or global), no ``module.compile()``, no ``jit.trace``."""
        return (self._compiled_call_impl is None and _tracing() is None
                and not (self._forward_pre_hooks or self._forward_hooks
                         or self._backward_pre_hooks or self._backward_hooks
                         or _GLOBAL_HOOKS[0] or _GLOBAL_HOOKS[1] or _GLOBAL_HOOKS[2]
                         or _GLOBAL_HOOKS[3]))

    def forward(
        self,
        policy_chosen_logps: torch.Tensor | None = None,
        policy_rejected_logps: torch.Tensor | None = None,
        reference_chosen_logps: torch.Tensor | None = None,
        reference_rejected_logps: torch.Tensor | None = None,
        chosen_lengths: torch.Tensor | None = None,
        rejected_lengths: torch.Tensor | None = None,
        *,
        logps: dict | None = None,
        lengths: dict | None = None,
    ) -> LossOutput:
        """Per-example losses and rewards; every input has shape ``(B,)``. Either TRL's
        positional log-probs (classic losses) or ``logps={atom: tensor}`` and
        ``lengths={response: tensor}`` (every loss)."""
        if logps is not None or lengths is not None:
            if not (policy_chosen_logps is None and policy_rejected_logps is None
                    and reference_chosen_logps is None and reference_rejected_logps is None
                    and chosen_lengths is None and rejected_lengths is None):
                raise LossInputError(f"{self._who()}: give the log-probs either positionally "
                                     "or as logps= and lengths=, not both")
            return self._forward_named(logps, lengths)
        if not self.classic:
            raise LossInputError(
                f"{self._who()} reads the atoms {', '.join(self.atoms)}, not only the classic "
                "four of a pair, so it has no positional call; pass one log-prob tensor per "
                f"atom by name: loss_fn(logps={self._example()}"
                + (f", lengths={{{', '.join(repr(r) + ': ...' for r in self.lengths_required)}}}"
                   if self.lengths_required else "") + ")")
        pc, pr = policy_chosen_logps, policy_rejected_logps
        rc, rr = reference_chosen_logps, reference_rejected_logps
        nc, nr = chosen_lengths, rejected_lengths
        if not self._fits(pc, pr, rc, rr, nc, nr):
            self._explain(pc, pr, rc, rr, nc, nr)
        low = pc.dtype in _LOW_PRECISION
        if low:  # half precision would lose the log1mexp branches: compute in float32
            pc, pr = pc.float(), pr.float()
            rc = rc.float() if rc is not None else None
            rr = rr.float() if rr is not None else None
        return self._output(*self.compute(pc, pr, rc, rr, nc, nr),
                            policy_chosen_logps.dtype if low else None)

    def _output(self, losses, chosen, rejected, dtype=None) -> LossOutput:
        """What ``compute`` returned (each ``(B,)``) as the module's output: the rewards
        detached and scaled, all cast back to ``dtype`` when the inputs were half precision
        (computed in float32)."""
        chosen, rejected = self._rewards(chosen.detach(), rejected.detach())
        if dtype is not None:
            losses, chosen, rejected = losses.to(dtype), chosen.to(dtype), rejected.to(dtype)
        return _new_output(LossOutput, (losses, chosen, rejected))

    def _forward_named(self, logps, lengths) -> LossOutput:
        xs, ns = self._check_named({} if logps is None else logps,
                                   {} if lengths is None else lengths)
        if self.classic:  # the positional path: the same numbers, the same checks
            pc, pr, *ref = xs
            rc, rr = ref if ref else (None, None)
            return self.forward(pc, pr, rc, rr, *ns[:2])
        low = xs[0].dtype in _LOW_PRECISION
        if low:  # half precision would lose the log1mexp branches: compute in float32
            xs = [x.float() for x in xs]
        return self._output(*self.compute(*xs, *ns), logps[self.atoms[0]].dtype if low else None)

    def _check_named(self, logps, lengths) -> tuple[list, list]:
        """The tensors of ``logps`` in atom order and of ``lengths`` in response order
        (None where not given), or a :class:`LossInputError` saying what does not fit.
        The common case is checked cheaply (this runs at every step); the message is built
        by :meth:`_refuse_named` when something is wrong."""
        atoms, responses = self.atoms, self.responses
        try:
            xs = [logps[a] for a in atoms]
            ns = [lengths.get(r) for r in responses]
            shape = xs[0].shape
            fits = len(logps) == len(atoms)
            for x in xs:
                fits = (fits and isinstance(x, torch.Tensor) and x.shape == shape
                        and x.is_floating_point())
            for n in ns:
                fits = fits and (n is None or isinstance(n, torch.Tensor) and n.shape == shape)
            for k in lengths:
                fits = fits and k in responses
            for r in (self.lengths_required if not self.classic
                      else responses if self.needs_lengths else ()):
                fits = fits and lengths.get(r) is not None
        except (KeyError, TypeError, AttributeError):
            fits = False
        if not fits:
            self._refuse_named(logps, lengths)
        return xs, ns

    def _refuse_named(self, logps, lengths) -> None:
        """Raise the :class:`LossInputError` that says what does not fit in these inputs."""
        who, atoms, responses = self._who(), self.atoms, self.responses
        reads = f"it reads the atoms {', '.join(atoms)}"
        for arg, value in (("logps", logps), ("lengths", lengths)):
            if not isinstance(value, dict):
                raise LossInputError(f"{who}: {arg}= must be a dict, not "
                                     f"{type(value).__name__} (e.g. logps={self._example()})")
        unknown = [k for k in logps if k not in atoms]
        if unknown:
            raise LossInputError(f"{who}: logps has {unknown[0]!r}, which this loss does not "
                                 f"read; {reads} (pass exactly those)")
        missing = [a for a in atoms if a not in logps]
        if missing:
            raise LossInputError(f"{who}: logps is missing {', '.join(missing)}; {reads}")
        unknown = [k for k in lengths if k not in responses]
        if unknown:
            raise LossInputError(f"{who}: lengths has {unknown[0]!r}, which is not a response "
                                 f"this loss reads (its responses: {', '.join(responses)})")
        required = self.lengths_required if not self.classic else (
            responses if self.needs_lengths else ())
        missing = [r for r in required if lengths.get(r) is None]
        if missing:
            raise LossInputError(
                f"{who} is length-normalised (normalize=length): lengths is missing "
                f"{', '.join(missing)} (token counts of those responses)")
        first = logps[atoms[0]]
        named = [(f"logps[{a!r}]", logps[a], True) for a in atoms]
        named += [(f"lengths[{r!r}]", lengths[r], False) for r in responses
                  if lengths.get(r) is not None]
        for where, x, is_logp in named:
            if not isinstance(x, torch.Tensor):
                raise LossInputError(f"{who}: {where} must be a torch.Tensor, not "
                                     f"{type(x).__name__}")
            if x.shape != first.shape:
                raise LossInputError(
                    f"{who}: {where} has shape {_shape(x)} but logps[{atoms[0]!r}] has shape "
                    f"{_shape(first)}; every input must have the same shape (B,)")
            if is_logp and not x.is_floating_point():
                raise LossInputError(f"{who}: {where} must be a floating-point tensor, "
                                     f"not {x.dtype}")
        raise AssertionError("_check_named refused inputs _refuse_named accepts")  # a bug

    def _example(self) -> str:
        return "{" + ", ".join(f"{a!r}: ..." for a in self.atoms) + "}"

    def _rewards(self, chosen, rejected) -> tuple[torch.Tensor, torch.Tensor]:
        """``beta`` times what ``compute`` returned for them: the log-ratios (reference
        losses) or the log-probs (reference-free), on the log-probs the loss reads: per-token
        means when it is length-normalised, as TRL's CPOTrainer logs SimPO's rewards. The
        generated code shares them with the loss when it computes them anyway; they come
        here detached, so autograd records nothing."""
        beta = self.beta
        if beta == 1.0 or self.rewards_scaled:  # rewards_scaled: compute multiplied already
            return chosen, rejected  # (B,) each
        return chosen * beta, rejected * beta  # (B,) each

    def _fits(self, pc, pr, rc, rr, nc, nr) -> bool:
        """The common case, checked cheaply; ``_explain`` finds what is wrong otherwise."""
        if not (isinstance(pc, torch.Tensor) and isinstance(pr, torch.Tensor)):
            return False
        shape = pc.shape
        if pr.shape != shape or not pc.is_floating_point():
            return False
        if self.uses_reference and not (isinstance(rc, torch.Tensor) and rc.shape == shape
                                        and isinstance(rr, torch.Tensor) and rr.shape == shape):
            return False
        for n in (nc, nr):
            if n is None:
                if self.needs_lengths:
                    return False
            elif not (isinstance(n, torch.Tensor) and n.shape == shape):
                return False
        return True

    def _explain(self, pc, pr, rc, rr, nc, nr) -> None:
        named = {"policy_chosen_logps": pc, "policy_rejected_logps": pr,
                 "reference_chosen_logps": rc, "reference_rejected_logps": rr,
                 "chosen_lengths": nc, "rejected_lengths": nr}
        for name, t in named.items():
            if t is not None and not isinstance(t, torch.Tensor):
                raise LossInputError(f"{self._who()}: {name} must be a torch.Tensor, "
                                     f"not {type(t).__name__}")
        if pc is None or pr is None:
            missing = "policy_chosen_logps" if pc is None else "policy_rejected_logps"
            raise LossInputError(f"{self._who()}: {missing} is missing")
        if self.uses_reference and (rc is None or rr is None):
            missing = [n for n, t in (("reference_chosen_logps", rc),
                                      ("reference_rejected_logps", rr)) if t is None]
            raise LossInputError(
                f"{self._who()} uses the reference model: {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing (expected shape {_shape(pc)})")
        if self.needs_lengths and (nc is None or nr is None):
            missing = [n for n, t in (("chosen_lengths", nc), ("rejected_lengths", nr))
                       if t is None]
            raise LossInputError(
                f"{self._who()} is length-normalised (normalize=length): "
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing "
                f"(token counts, expected shape {_shape(pc)})")
        for name, t in named.items():
            if t is not None and t.shape != pc.shape:
                raise LossInputError(
                    f"{self._who()}: {name} has shape {_shape(t)} but policy_chosen_logps "
                    f"has shape {_shape(pc)}; every input must have the same shape (B,)")
        raise LossInputError(f"{self._who()}: policy_chosen_logps must be a floating-point "
                             f"tensor, not {pc.dtype}")

    def _who(self) -> str:
        return f"loss '{self.spec}'" if self.spec else "this loss"

    def extra_repr(self) -> str:
        return f"spec={self.spec!r}, source={self.source!r}"
