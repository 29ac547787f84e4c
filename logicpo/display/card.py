"""One self-contained page about a loss, to attach to a paper review or a pull request
(``logicpo show NAME --html card.html``).

The page holds the definition and a DSL line to paste, the regions, the truth table, the
closed form (MathML), the zoo structures it equals or sits between, a reading in plain words
and the lattice neighbourhood as inline SVG with its text drawn as paths. Nothing is fetched:
no script, no stylesheet, no font, no image file.

>>> from logicpo.program import zoo
>>> page = card_html(zoo(), "ORPO")
>>> page.startswith("<!DOCTYPE html>"), [x for x in ("<script", "<link", "src=", "url(h")
...                                        if x in page]
(True, [])
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from logicpo.display.html import (
    CSS,
    closed_form_html,
    lattice_svg,
    neighbourhood_lattice,
    standing_html,
    truth_table_html,
)
from logicpo.display.reading import reading
from logicpo.display.standing import zoo_standing
from logicpo.files import write_atomic
from logicpo.logic.structure import definition_line
from logicpo.logic.truth import world_list


def _structure_sections(program, name: str, s, heading: str = "h2") -> str:
    place = zoo_standing(program, name) if program.kind(name) == "structure" else None
    if place is None:
        from logicpo.display.html import zoo_place

        place = zoo_place(s)
    ok, bad = s.regions()

    lat, me = neighbourhood_lattice(s, place)
    svg = lattice_svg(lat, yours={me}, yours_label=f"{s.name} (dashed frame)",
                      title=f"Where {s.name} sits: A -> B means A |= B (loss(A) >= loss(B))")
    kind = "single-model" if s.single_model else "reference"
    fields = "".join(f"<tr><th>{k}</th><td>{escape(v)}</td></tr>" for k, v in (
        ("core P", s.core_text), ("cond P_C", s.cond_text), ("add P_A", s.add_text)))
    h = heading
    return (
        f'<section class="structure" id="structure-{escape(s.name)}">'
        f"<{h}>Definition</{h}><p>{escape(s.name)} is a {kind} structure over "
        f"{escape(', '.join(s.atoms))}"
        + (f' <span class="cite">— {escape(s.doc)}</span>' if s.doc else "") + ".</p>"
        f'<table class="fields">{fields}</table>'
        f'<p>To paste into a <code>.lpo</code> file:</p><pre id="dsl"><code>'
        f"{escape(definition_line(s))}</code></pre>"
        f"<{h}>Regions</{h}><table class=\"fields\">"
        f"<tr><th>ok ✓ (for)</th><td>{world_list(ok)}</td></tr>"
        f"<tr><th>bad ✗ (against)</th><td>{world_list(bad)}</td></tr></table>"
        f'<p class="reading">{escape(reading(s))}</p>'
        f"<{h}>Truth table</{h}>{truth_table_html(s)}"
        f"<{h}>Closed form</{h}><p>The paper's loss, -log σ(rho) with rho = log WMC(ok) - "
        f"log WMC(bad) (beta = 1):</p>{closed_form_html(s)}"
        f"<{h}>Where it stands</{h}>{standing_html(place)}"
        f'<div class="lattice" id="lattice">{svg}</div>'
        "</section>")


def card_html(program, name: str) -> str:
    """The page for the structure or objective ``name`` of ``program``."""
    from logicpo import __version__

    if program.kind(name) == "objective":
        obj = program.objective(name)
        seen: dict[str, object] = {}
        for t in obj.terms:
            seen.setdefault(t.structure.name, t.structure)
        terms = "".join(f"<li><code>{escape(t.text())}</code></li>" for t in obj.terms)
        body = (f"<h1>{escape(obj.name)}</h1>"
                + (f'<p class="cite">{escape(obj.doc)}</p>' if obj.doc else "")
                + f"<p>An objective: <code>{escape(obj.text())}</code></p><ul>{terms}</ul>"
                + "".join(f"<h2>Structure {escape(n)}</h2>"
                          + _structure_sections(program, n, s, "h3")
                          for n, s in seen.items()))
        title = obj.name
    else:
        s = program.structure(name)
        body = (f"<h1>{escape(s.name)}</h1>"
                + (f'<p class="cite">{escape(s.doc)}</p>' if s.doc else "")
                + _structure_sections(program, name, s))
        title = s.name
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)} — logicpo</title>"
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{CSS}</style></head>"
            f'<body><main class="logicpo">{body}'
            f'<p class="cite">Written by logicpo {escape(__version__)}; the semantics is that '
            "of Richardson, Srikumar and Sabharwal (ICML 2025).</p></main></body></html>\n")


def write_card(program, name: str, path: str | Path) -> Path:
    """Write the page for ``name`` to ``path`` atomically (whole or not at all)."""
    return write_atomic(path, card_html(program, name))
