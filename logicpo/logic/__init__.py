"""Logic: formulas as SymPy Boolean expressions, truth tables, preference structures,
and their closed-form losses (SymPy lives here and nowhere else)."""
