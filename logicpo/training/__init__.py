"""Training a policy with any logicpo loss: data, tasks, model, log-probs, checkpoints, loop.

Imports torch (unlike the symbolic layers); the CLI loads it only inside the training
commands. One concept per module:

- :mod:`~logicpo.training.config`: :class:`TrainConfig`, the whole run in one dataclass;
- :mod:`~logicpo.training.data`: preference files (JSONL or JSON array) with located errors;
- :mod:`~logicpo.training.tasks`: built-in synthetic tasks with a known ground-truth reward;
- :mod:`~logicpo.training.model`: the byte tokenizer and a tiny causal transformer;
- :mod:`~logicpo.training.logprobs`: sequence log-probs (sum and token count) per response;
- :mod:`~logicpo.training.checkpoint`: atomic, code-free checkpoints;
- :mod:`~logicpo.training.run_dir`: the run directory (refusal, lock, the recorded loss);
- :mod:`~logicpo.training.distributed`: torchrun / DDP set-up;
- :mod:`~logicpo.training.loop`: ``train(cfg)``.

Sweeps and searches over many runs are in :mod:`logicpo.experiments`.
"""
