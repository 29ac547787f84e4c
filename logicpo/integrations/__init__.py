"""Training libraries that logicpo losses plug into.

- :mod:`logicpo.integrations.trl`: :class:`~logicpo.integrations.trl.LogicpoDPOTrainer`, a
  ``trl.DPOTrainer`` whose loss is any logicpo loss (extra ``logicpo[trl]``).

Nothing here is imported by ``import logicpo``: each module needs its library installed.
"""
