"""HTML and LaTeX views of structures, comparisons and lattices: for notebooks
(``_repr_html_``, ``_repr_latex_``) and for the one self-contained page that
``logicpo show NAME --html card.html`` writes.

Everything is inline: tables as HTML, the closed form as presentation MathML
(:mod:`logicpo.logic.mathml`), pictures as SVG whose text is drawn as paths
(``svg.fonttype = "path"``), so a page renders the same with no network, no script and no
font download.

>>> from logicpo.program import zoo
>>> html = structure_html(zoo().structure("CPO"))
>>> '<table class="truth-table">' in html, "<math" in html
(True, True)
>>> structure_latex(zoo().structure("CPO"))
'$\\\\displaystyle - \\\\log{\\\\left(\\\\sigma\\\\left(pc - pr\\\\right) \\\\right)}$'
"""

from __future__ import annotations

import io
import re
from html import escape

from logicpo.display.reading import reading
from logicpo.display.standing import Standing, standing
from logicpo.logic.structure import Structure
from logicpo.logic.truth import world_list

CSS = """
.logicpo { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.45;
  color: #1a1a1a; max-width: 62rem; }
.logicpo h1 { font-size: 1.5rem; margin: 0.2rem 0; }
.logicpo h2 { font-size: 1.1rem; margin: 1.2rem 0 0.4rem; border-bottom: 1px solid #ddd; }
.logicpo table { border-collapse: collapse; margin: 0.3rem 0; }
.logicpo th, .logicpo td { border: 1px solid #ccc; padding: 0.15rem 0.6rem; text-align: center; }
.logicpo table.fields th { text-align: left; background: #f4f6f8; }
.logicpo table.fields td { text-align: left; font-family: ui-monospace, monospace; }
.logicpo tr.ok td.counts { background: #e3f2e1; } .logicpo tr.bad td.counts { background: #fbe3e3; }
.logicpo tr.both td.counts { background: #fff3cd; }
.logicpo pre { background: #f4f6f8; padding: 0.5rem 0.7rem; overflow-x: auto; }
.logicpo code, .logicpo .mono { font-family: ui-monospace, monospace; }
.logicpo .cite { color: #555; }
.logicpo svg { max-width: 100%; height: auto; }
"""

_MARK = {"ok": "✓", "bad": "✗", "both": "✓ ✗", "neither": "·"}


def zoo_place(s: Structure) -> Standing:
    """Where ``s`` stands among the zoo's structures (the zoo's own ``s`` left out)."""
    from logicpo.program import zoo

    z = zoo()
    known = [z.structure(n) for n in z.names_of("structure", zoo_only=True)]
    key = (s.atoms, s.ok_mask, s.bad_mask)
    return standing(s, [k for k in known
                        if not (k.name == s.name and (k.atoms, k.ok_mask, k.bad_mask) == key)])


def truth_table_html(s: Structure) -> str:
    """The truth table as an HTML table: one row per world, all-true first."""
    head = "".join(f"<th>{escape(c)}</th>" for c in (*s.atoms, "core P", "cond P_C", "add P_A",
                                                       "counts as"))
    rows = []
    for row in s.truth_table():
        cells = "".join(f"<td>{'T' if row[a] else 'F'}</td>" for a in s.atoms)
        cells += "".join(f"<td>{'T' if row[c] else 'F'}</td>" for c in ("core", "cond", "add"))
        cells += f'<td class="counts">{_MARK[row["counts"]]}</td>'
        rows.append(f'<tr class="{row["counts"]}">{cells}</tr>')
    return (f'<table class="truth-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def closed_form_html(s: Structure) -> str:
    """The paper's loss of ``s`` as MathML, with its plain text and ``rho``."""
    from logicpo.logic.closed_form import closed_form
    from logicpo.logic.mathml import to_mathml

    cf = closed_form(s)
    out = [f'<div class="closed-form">{to_mathml(cf.loss)}</div>',
           f'<p>loss <code>{escape(cf.text)}</code>']
    if cf.rho_text:
        out.append(f'<br>rho <code>{escape(cf.rho_text)}</code>')
    out.append("</p>")
    if s.degeneracy:
        out.append(f"<p><b>degenerate:</b> {escape(s.degeneracy.value)}</p>")
    return "".join(out)


def _fields_html(s: Structure) -> str:
    ok, bad = s.regions()
    rows = [("core P", s.core_text), ("cond P_C", s.cond_text), ("add P_A", s.add_text),
            ("ok ✓", world_list(ok)), ("bad ✗", world_list(bad))]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="fields">{body}</table>'


def standing_html(place: Standing) -> str:
    items = "".join(f"<li>{escape(x)}</li>" for x in place.sentences())
    return f'<ul class="standing">{items}</ul>'


def structure_html(s: Structure, place: Standing | None = None) -> str:
    """A structure for a notebook: its fields and regions, truth table, closed form, where
    it stands among the zoo's structures and its reading in plain words."""
    place = place or zoo_place(s)
    kind = "single-model" if s.single_model else "reference"
    cite = f' <span class="cite">— {escape(s.doc)}</span>' if s.doc else ""
    return (f'<div class="logicpo"><style>{CSS}</style>'
            f"<p><b>{escape(s.name)}</b> ({kind} structure over {escape(', '.join(s.atoms))})"
            f"{cite}</p>{_fields_html(s)}{closed_form_html(s)}{truth_table_html(s)}"
            f"<p><b>standing</b> (among the zoo's structures)</p>{standing_html(place)}"
            f'<p class="reading">{escape(reading(s))}</p></div>')


def structure_latex(s: Structure) -> str:
    """The closed form of ``s``'s loss as display LaTeX, for ``_repr_latex_``."""
    from logicpo.logic.closed_form import closed_form

    return f"$\\displaystyle {closed_form(s).latex}$"


def comparison_html(c) -> str:
    """A :class:`~logicpo.reasoning.order.Comparison`: the relation, its summary and the
    witness worlds of every failed direction."""
    parts = [f'<div class="logicpo"><style>{CSS}</style>'
             f"<p><b>{escape(c.relation.value)}</b>: {escape(c.summary())}</p>"]
    if c.witnesses:
        atoms = c.witnesses[0].world.atoms
        head = "".join(f"<th>{escape(x)}</th>" for x in
                       ("fails", "world", *atoms, f"{c.a.name} counts", f"{c.b.name} counts"))
        rows = []
        for w in c.witnesses:
            by_a = w.first_counts if w.first is c.a else w.second_counts
            by_b = w.second_counts if w.first is c.a else w.first_counts
            cells = [f"{w.first.name} |= {w.second.name}", w.world.short,
                     *("T" if v else "F" for v in w.world.values.values()), by_a, by_b]
            rows.append("<tr>" + "".join(f"<td>{escape(x)}</td>" for x in cells) + "</tr>")
        parts.append(f'<table class="witnesses"><thead><tr>{head}</tr></thead>'
                     f'<tbody>{"".join(rows)}</tbody></table>')
        parts += [f"<p>{escape(w.explain())}</p>" for w in c.witnesses]
    parts.append("</div>")
    return "".join(parts)


def decompiled_html(result) -> str:
    """A decompile result (:class:`logicpo.decompiler.Decompiled`) for a notebook: the
    expression, the DSL to paste (or why there is none), parameters with their roles,
    assumptions, warnings, the round trip and notes, then each term's structure (truth
    table, closed form, standing, reading) under what the term was read as."""
    rows = [("expression", result.expression),
            ("dsl", result.dsl if result.dsl is not None else f"none: {result.dsl_problem}"),
            *(("parameter", f"{p.name}: {'; '.join(p.roles)}") for p in result.parameters),
            *(("value", f"{k} = {v:g}") for k, v in result.values),
            *(("assumes", a) for a in result.assumptions),
            *(("warning", w) for w in result.warnings),
            ("round trip", f"{result.round_trip_points} random points, largest relative "
                           f"difference {result.round_trip_error:.1e}"),
            *(("note", n) for n in result.notes)]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    terms = []
    for i, t in enumerate(result.terms, 1):
        params = ", ".join(f"{k}={v}" for k, v in t.params.items())
        read = (f"term {i}: {t.text} is {t.weight} * {t.family}({t.structure.name}"
                f"{', ' + params if params else ''})"
                + (f", same regions as {', '.join(t.same_as)}" if t.same_as else ""))
        terms.append(f'<h4>{escape(read)}</h4>{structure_html(t.structure)}')
    return (f'<div class="logicpo decompiled"><style>{CSS}</style>'
            f'<table class="fields">{body}</table>{"".join(terms)}</div>')


def figure_svg(fig, scale: float = 1.5) -> str:
    """A matplotlib figure as an inline ``<svg>`` element, its text drawn as paths, shown
    ``scale`` times its printed size (a page is read on a screen, not on paper)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        # No metadata block: its RDF names web addresses a reader might take for fetches.
        fig.savefig(buf, format="svg", bbox_inches="tight",
                    metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    head, rest = text.split(">", 1)

    def scaled(match: re.Match) -> str:
        return f'{match[1]}="{float(match[2]) * scale:.2f}pt"'

    return re.sub(r'(width|height)="([0-9.]+)pt"', scaled, head, count=2) + ">" + rest


def lattice_svg(lat, *, yours=frozenset(), yours_label: str | None = None,
                title: str | None = None) -> str:
    """The Hasse diagram of a :class:`~logicpo.reasoning.lattice.Lattice` as inline SVG."""
    from logicpo.plots.lattice import draw_lattice

    return figure_svg(draw_lattice(lat, title, yours=yours, yours_label=yours_label))


def lattice_html(lat) -> str:
    return f'<div class="logicpo lattice">{lattice_svg(lat)}</div>'


def neighbourhood_lattice(s: Structure, place: Standing):
    """The lattice of ``s`` with the zoo structures it equals and its nearest stronger and
    weaker ones: where it sits, as a small picture."""
    from logicpo.program import zoo
    from logicpo.reasoning.lattice import Lattice

    z = zoo()
    names = [*place.same_regions, *(n for node in (*place.stronger, *place.weaker)
                                    for n in node.split("="))]
    known = [z.structure(n, zoo=True) for n in dict.fromkeys(names)]
    me = s if s.name not in names else s.renamed(f"{s.name} (yours)")
    return Lattice.build([*known, me]), me.name
