"""logicpo: preference-optimisation losses (DPO and its variants) as propositional logic.

The symbolic core imports no torch; the numeric parts load on first use.

>>> import logicpo
>>> logicpo.structure("DPO").core_text
'(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))'
>>> logicpo.compare("CPO", "cCPO").relation.value
'stronger'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public names and the module that defines each; loaded lazily so that
# `logicpo check` never pays for torch.
_LAZY = {
    "LogicpoError": "logicpo.errors",
    "Structure": "logicpo.logic.structure",
    "Objective": "logicpo.logic.objective",
    "closed_form": "logicpo.logic.closed_form",
    "load": "logicpo.program",
    "load_text": "logicpo.program",
    "zoo": "logicpo.program",
    "structure": "logicpo.api",
    "compare": "logicpo.api",
    "entails": "logicpo.reasoning.solver",
    "equivalent": "logicpo.reasoning.solver",
    "satisfiable": "logicpo.reasoning.solver",
    "Lattice": "logicpo.reasoning.lattice",
    "lattice": "logicpo.api",
    "loss": "logicpo.numbers.api",
    "LossOutput": "logicpo.numbers.module",
    "decompile": "logicpo.decompiler",
    "TrainConfig": "logicpo.training.config",
    "train": "logicpo.training.loop",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'logicpo' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
