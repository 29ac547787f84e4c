"""Pictures (matplotlib lives here and nowhere else). One module per kind of picture."""
