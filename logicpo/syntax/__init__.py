"""Syntax: .lpo text to an abstract syntax tree (lark lives here and nowhere else)."""
