"""Formula AST back to DSL text, with the fewest parentheses the precedence allows.

>>> from logicpo.syntax.parser import parse_formula
>>> format_formula(parse_formula("Implies(And(M(yl), Ref(yw)), M(yw) & Ref(yl))"))
'(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))'
"""

from __future__ import annotations

from logicpo.syntax import ast

# Binding strength: higher binds tighter.
_LEVEL = {ast.Iff: 1, ast.Implies: 2, ast.Or: 3, ast.Xor: 4, ast.And: 5, ast.Not: 6}


def format_formula(node: ast.Formula, names: dict | None = None) -> str:
    """DSL text of ``node``; ``names`` maps formula names to their definitions (inlined)."""
    return _fmt(node, names or {}, 0)


def _fmt(node, names, outer: int) -> str:
    if isinstance(node, ast.Atom):
        return node.text
    if isinstance(node, ast.Const):
        return "true" if node.value else "false"
    if isinstance(node, ast.Name):
        if node.id in names:
            return _fmt(names[node.id], names, outer)
        return node.id
    level = _LEVEL[type(node)]
    if isinstance(node, ast.Not):
        text = "~" + _fmt(node.arg, names, level)
    elif isinstance(node, ast.Implies):  # operands bracketed unless atomic, for reading
        text = f"{_fmt(node.premise, names, 5)} -> {_fmt(node.conclusion, names, 5)}"
    elif isinstance(node, ast.Iff):
        text = f"{_fmt(node.left, names, 5)} <-> {_fmt(node.right, names, 5)}"
    else:
        sep = {ast.And: " & ", ast.Or: " | ", ast.Xor: " xor "}[type(node)]
        text = sep.join(_fmt(a, names, 5) for a in node.args)
    return f"({text})" if level <= outer else text
