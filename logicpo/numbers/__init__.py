"""Numbers: objectives compiled to PyTorch (torch lives here and in the plots, nowhere else).

``logwmc`` factorises regions into log-space expressions (no torch), ``params``
decides hyper-parameters, ``codegen`` writes the module source, ``module`` is
the runtime the generated code runs on, ``api`` is ``logicpo.loss``,
``brute`` is the world-enumerating reference evaluator and ``export`` writes
standalone files.
"""
