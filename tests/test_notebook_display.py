"""Notebook display: plot modules leave the backend alone; structures, comparisons and
lattices have HTML (and a closed form as LaTeX) for Jupyter.

Expected contents are derived by hand from the spec (section 5's table and closed forms).
"""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from logicpo.program import zoo

ROOT = Path(__file__).resolve().parents[1]


def test_importing_and_drawing_leaves_the_notebook_backend_alone():
    """A notebook sets its own backend; logicpo must neither switch it nor start pyplot.
    (The old plot modules called matplotlib.use("Agg") on import.)"""
    code = """
import importlib, pkgutil, sys
import matplotlib
matplotlib.use("svg")
import logicpo.plots
modules = [m.name for m in pkgutil.iter_modules(logicpo.plots.__path__)]
assert {"lattice", "landscape", "runs", "losses"} <= set(modules), modules
for m in modules:  # every plot module, today's and tomorrow's
    importlib.import_module("logicpo.plots." + m)
from logicpo.api import lattice
from logicpo.plots.lattice import draw_lattice
draw_lattice(lattice()).savefig(sys.argv[1], format="png")
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"logicpo-backend-{os.getpid()}.png"
    try:
        done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True,
                              text=True, cwd=ROOT, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["svg", "False"]
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        out.unlink(missing_ok=True)


class Cells(HTMLParser):
    """Rows of every <table class="..."> in a page, as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = None
        self._row = None
        self._cell = None
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "table":
            self._table = dict(attrs).get("class", "")
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def parse(html: str) -> Cells:
    p = Cells()
    p.feed(html)
    return p


def test_structure_html_has_the_truth_table_closed_form_and_standing():
    """CPO (spec section 5): ok = TT TF, bad = TT FT, so TT counts on both sides, TF for,
    FT against, FF neither; its loss is -log sigmoid(pc - pr)."""
    html = zoo().structure("CPO")._repr_html_()
    page = parse(html)
    rows = page.tables["truth-table"]
    assert rows[0][:2] == ["M(yw)", "M(yl)"] and rows[0][-1] == "counts as"
    assert [(r[0], r[1], r[-1]) for r in rows[1:]] == [
        ("T", "T", "✓ ✗"), ("T", "F", "✓"), ("F", "T", "✗"), ("F", "F", "·")]
    assert "math" in page.tags and "-log sigmoid(pc - pr)" in html
    # Standing, by hand from the spec table: sCE (TT TF / TT FT FF) and cUNL (TF / TT FT)
    # entail CPO with nothing between; CPO entails cCPO (TT TF / FT).
    assert "Nearest stronger (they entail CPO, loss at least as high): cUNL and sCE." in html
    assert "Nearest weaker (CPO entails them, loss at most as high): cCPO." in html
    assert "counts a world for the preference" in html


def test_structure_latex_is_the_closed_form():
    latex = zoo().structure("CPO")._repr_latex_()
    assert latex.startswith("$") and latex.endswith("$")
    assert r"\sigma\left(pc - pr\right)" in latex and r"\log" in latex


def test_comparison_html_names_the_relation_and_the_witness():
    """CPO |= cCPO; cCPO does not entail CPO because of TT, which cCPO counts as ok only and
    CPO as both (spec section 5 regions)."""
    import logicpo

    html = logicpo.compare("CPO", "cCPO")._repr_html_()
    assert "<b>stronger</b>" in html
    rows = parse(html).tables["witnesses"]
    assert rows[0][-2:] == ["CPO counts", "cCPO counts"]
    assert rows[1:] == [["cCPO |= CPO", "TT", "T", "T", "both", "ok"]]


def test_lattice_html_is_inline_svg_with_text_as_paths():
    import logicpo

    html = logicpo.lattice(["CPO", "cCPO", "ORPO"])._repr_html_()
    assert "<svg" in html and "<?xml" not in html and "<!DOCTYPE" not in html
    assert "<path" in html and "<text" not in html  # glyphs drawn as paths: no font needed


def test_decompile_result_html_has_the_reading_table_and_standing():
    """DPO written with its log-ratios swapped, (pr - rr) - (pc - rc): by hand its ok is
    DPO's bad and its bad DPO's ok, i.e. flip(DPO), which prefers the loser."""
    from logicpo.decompiler import decompile

    html = decompile("-logsigmoid(beta*((pr - rr) - (pc - rc)))")._repr_html_()
    page = parse(html)
    assert len(page.tables["truth-table"]) == 1 + 16  # header and the 16 worlds
    fields = page.tables["fields"]
    assert ["dsl", "logistic(flip(DPO))"] in fields
    assert ["parameter", "beta: temperature"] in fields
    assert "equals flip(DPO)" in html and "prefers the loser" in html
    assert "<math" in html


def test_decompiled_objective_html_shows_every_terms_structure():
    """CPO with its NLL term, -logsigmoid(beta*(pc - pr)) - pc: by hand, term 1 is CPO and
    term 2 is -log P(M(yw)), the zoo's CE (ok = the two worlds with M(yw)), each a
    single-model structure with a 4-world truth table of its own."""
    from logicpo.decompiler import decompile

    html = decompile("-logsigmoid(beta*(pc - pr)) - pc")._repr_html_()
    page = parse(html)
    assert len(page.tables["truth-table"]) == 2 * (1 + 4)
    dsl = dict(r for r in page.tables["fields"] if len(r) == 2)["dsl"]
    assert dsl.startswith("logistic(CPO) + logistic(CE, beta=1")
    assert "term 1: -logsigmoid(beta*(pc - pr))" in html and "term 2: -pc" in html
