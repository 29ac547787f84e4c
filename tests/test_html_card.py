"""`logicpo show NAME --html card.html` in a real headless browser (Debian's chromium).

The page is loaded from disk with every host name unresolvable, screenshotted, and its
rendered DOM (``--dump-dom``) is checked: the truth table, the closed form and the lattice
SVG are there and not empty. Expected rows are derived by hand: xone is
``ok = M(yw) & ~M(yl)`` (TF), ``bad = M(yl) & ~M(yw)`` (FT), ORPO's regions (spec section 5).

This test does not skip: without chromium it fails and says how to install it
(``.ci/run`` installs it when it is missing).
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from logicpo.cli import main

XONE = "structure xone { ok: M(yw) & ~M(yl)  bad: M(yl) & ~M(yw) }\n"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        pytest.fail("chromium is needed to test the HTML page in a real browser: "
                    "apt-get install -y chromium (.ci/run does this when it is missing)")
    return found


def browse(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium, headless, offline (every host unresolvable), with its own profile."""
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--window-size=1200,2600", *args, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180)


class Dom(HTMLParser):
    """What the test reads from the rendered DOM."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.truth_rows: list[list[str]] = []
        self.math_text = ""
        self.svg_paths = 0
        self.svg_in_lattice = 0
        self.external: list[str] = []
        self._row: list[str] | None = None
        self._cell: str | None = None

    def _inside(self, tag: str, **attrs) -> bool:
        return any(t == tag and all(a.get(k) == v for k, v in attrs.items())
                   for t, a in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])
        if tag == "svg" and self._inside("div", id="lattice"):
            self.svg_in_lattice += 1
        if tag == "path" and self._inside("svg"):
            self.svg_paths += 1
        if tag == "tr" and self._inside("table", **{"class": "truth-table"}):
            self._row = []
        if tag == "td" and self._row is not None:
            self._cell = ""
        if tag not in ("meta", "br", "path", "use"):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            if self._row:
                self.truth_rows.append(self._row)
            self._row = None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._inside("math"):
            self.math_text += data


def test_card_renders_in_a_real_browser(tmp_path):
    src = tmp_path / "mine.lpo"
    src.write_text(XONE)
    page = tmp_path / "out" / "card.html"
    result = CliRunner().invoke(main, ["show", f"{src}:xone", "--html", str(page)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "xone has the same regions as ORPO" in result.stdout
    assert sorted(p.name for p in page.parent.iterdir()) == ["card.html"]  # no temp left

    shot = tmp_path / "card.png"
    done = browse(page, tmp_path, f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[0] == 2600 and pixels.shape[1] == 1200
    assert pixels[..., :3].std() > 0.05  # not a blank page

    done = browse(page, tmp_path, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = Dom()
    dom.feed(done.stdout)
    # The truth table: all-true world first; xone counts TF for, FT against, TT and FF not.
    assert [(r[0], r[1], r[-1]) for r in dom.truth_rows] == [
        ("T", "T", "·"), ("T", "F", "✓"), ("F", "T", "✗"), ("F", "F", "·")]
    # The closed form as MathML: ORPO's -log sigmoid((pc - l1m(pc)) - (pr - l1m(pr))).
    math = dom.math_text.replace(" ", "")
    assert "log1mexp" in math and "σ" in math and "pc" in math and "pr" in math
    # The lattice neighbourhood as inline SVG with its glyphs and boxes drawn as paths.
    assert dom.svg_in_lattice == 1 and dom.svg_paths > 20
    assert dom.external == []
    text = done.stdout
    assert "structure xone { core: M(yl) -&gt; M(yw)  cond: M(yw) xor M(yl) }" in text
    assert "Nearest weaker (xone entails them, loss at most as high): cCPO and cfUnl." in text


def test_card_for_an_objective_has_a_section_per_structure(tmp_path):
    page = tmp_path / "cpo_full.html"
    result = CliRunner().invoke(main, ["show", "cpo_full", "--html", str(page), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = page.read_text()
    # cpo_full = logistic(CPO) + sft, and sft = logistic(CE, beta=1): two structures.
    assert text.count('<section class="structure"') == 2
    assert 'id="structure-CPO"' in text and 'id="structure-CE"' in text


def test_card_bad_path_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["show", "CPO", "--html", str(blocker / "card.html")],
                                catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert blocker.read_text() == "x"
