"""Experiments that settle questions: several seeds, intervals, resumable and parallel runs.

Builds on :mod:`logicpo.training` (one run) and adds what a comparison of losses needs.
One concept per module:

- :mod:`~logicpo.experiments.stats`: means, Student-t intervals, paired differences, verdicts;
- :mod:`~logicpo.experiments.manifest`: a directory of runs and the manifest that owns it;
- :mod:`~logicpo.experiments.runner`: run many training runs (in order, ``--jobs N``
  processes, or Ray tasks), skipping finished runs and resuming interrupted ones;
- :mod:`~logicpo.experiments.report`: one row per loss from the runs' summaries;
- :mod:`~logicpo.experiments.search`: successive halving over the neighbours of a loss.

``stats`` imports nothing heavy; the runner imports torch only inside the processes
that train.
"""
