"""Reasoning: verdicts about formulas and structures (z3 and bitmasks), the order
between losses and the loss lattice (networkx)."""
