"""Closed forms as presentation MathML, for pages that must render without a network
(``logicpo show NAME --html``, notebooks): browsers render MathML natively, no script or
font download needed.

SymPy's presentation printer writes the logic's own functions by name; ``sigmoid`` is
written ``σ`` as in the paper, ``log1mexp`` keeps its name.

>>> from logicpo.logic.structure import Structure
>>> from logicpo.logic.closed_form import closed_form
>>> cpo = Structure.from_masks("CPO", ("M(yw)", "M(yl)"), 0b1010, 0b1100)
>>> text = to_mathml(closed_form(cpo).loss)
>>> text.startswith('<math xmlns="http://www.w3.org/1998/Math/MathML"'), "<mi>&#963;</mi>" in text
(True, True)
"""

from __future__ import annotations

import sympy
from sympy.printing.mathml import MathMLPresentationPrinter

MATHML_NS = "http://www.w3.org/1998/Math/MathML"


class _Printer(MathMLPresentationPrinter):
    def _print_sigmoid(self, e):
        return self._named("σ", e)

    def _print_log1mexp(self, e):
        return self._named("log1mexp", e)

    def _named(self, name: str, e):
        row = self.dom.createElement("mrow")
        mi = self.dom.createElement("mi")
        mi.appendChild(self.dom.createTextNode(name))
        row.appendChild(mi)
        fence = self.dom.createElement("mrow")
        for text, child in (("(", None), (None, e.args[0]), (")", None)):
            if child is None:
                mo = self.dom.createElement("mo")
                mo.appendChild(self.dom.createTextNode(text))
                fence.appendChild(mo)
            else:
                fence.appendChild(self._print(child))
        row.appendChild(fence)
        return row


def to_mathml(expr: sympy.Expr, *, display: str = "block") -> str:
    """``expr`` as one ``<math>`` element (presentation MathML), ready to inline in HTML."""
    body = _Printer().doprint(expr)
    # SymPy writes e as the entity &ExponentialE;, which XML without a DTD does not know.
    body = body.replace("&ExponentialE;", "&#8519;")
    return f'<math xmlns="{MATHML_NS}" display="{display}">{body}</math>'
