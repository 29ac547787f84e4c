"""The landscape: factorisation of regions, neighbours and the census, against brute force.

Every expected number is either derived by hand in the docstring or recomputed here by an
independent method (SymPy polynomial arithmetic, exact rational evaluation, set algebra).
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
import sympy
from click.testing import CliRunner

from logicpo.logic.structure import Degeneracy, Structure
from logicpo.reasoning.landscape import (
    census,
    factors,
    loss_key,
    neighbours,
    reduced_pair,
)

SINGLE = ("M(yw)", "M(yl)")


def world_sets(m: int, n: int) -> set[int]:
    return {k for k in range(1 << n) if (m >> k) & 1}


def wmc_poly(m: int, n: int, xs) -> sympy.Poly:
    """WMC of region m as a SymPy polynomial, summed world by world (independent of logicpo)."""
    total = sympy.Integer(0)
    for k in world_sets(m, n):
        term = sympy.Integer(1)
        for i in range(n):
            term *= xs[i] if (k >> i) & 1 else 1 - xs[i]
        total += term
    return sympy.Poly(total, *xs, domain="QQ")


def canonical_ratio(t: sympy.Poly, b: sympy.Poly) -> tuple:
    """t/b in lowest terms with a monic denominator: equal keys iff equal rational functions."""
    g = t.gcd(b)
    t, b = t.quo(g), b.quo(g)
    lc = b.LC()
    return (t.quo_ground(lc).as_expr(), b.quo_ground(lc).as_expr())


# ---------------------------------------------------------------- factorisation


def test_factors_by_hand():
    """Over (M(yw), M(yl)): masks are bits TT=3, TF=1, FT=2, FF=0 of the world index.

    TT alone is w_pc * w_pr: factors are the cylinders M(yw) (worlds 1, 3 -> 0b1010) and
    M(yl) (worlds 2, 3 -> 0b1100). TF|FT is w_pc + w_pr - 2 w_pc w_pr: irreducible.
    Every world is the constant 1: no factors.
    """
    assert factors(0b1000, 2) == (0b1010, 0b1100)
    assert factors(0b0110, 2) == (0b0110,)
    assert factors(0b1111, 2) == ()
    # (TT, FT) = (w_pc w_pr, (1 - w_pc) w_pr): w_pr cancels, leaving (M(yw), ~M(yw)) = CE.
    assert reduced_pair(0b1000, 0b0100, 2) == (0b1010, 0b0101)


def test_factors_agree_with_sympy_for_three_atoms():
    xs = sympy.symbols("x0:3")
    for m in range(1, 256):
        _, fl = sympy.factor_list(wmc_poly(m, 3, xs).as_expr(), *xs)
        nonconstant = sum(mult for f, mult in fl if f.free_symbols)
        assert len(factors(m, 3)) == nonconstant, m
        product = (1 << 8) - 1
        for f in factors(m, 3):
            product &= f
        assert product == m


# ---------------------------------------------------------------- census


def test_census_one_atom_by_hand():
    """One atom, worlds {F, T}: 4 regions, 16 pairs.

    Degenerate: ok empty (4) + bad empty, ok not (3) + ok = bad non-empty (3) = 10.
    The 6 others are w/(1-w), w/1, (1-w)/w, (1-w)/1, 1/w, 1/(1-w): all different.
    """
    r = census(1)
    assert (r.pairs, r.degenerate, r.distinct) == (16, 10, 6)


def test_census_two_atoms_against_sympy_gcd():
    """Brute force over all 256 pairs with exact polynomial gcds (SymPy, not logicpo)."""
    xs = sympy.symbols("x0:2")
    polys = [wmc_poly(m, 2, xs) for m in range(16)]
    degenerate, classes = 0, set()
    for t in range(16):
        for b in range(16):
            if t == 0 or b == 0 or t == b:
                degenerate += 1
                continue
            classes.add(canonical_ratio(polys[t], polys[b]))
    r = census(2)
    assert r.pairs == 256
    assert r.degenerate == degenerate == 3 * 16 - 2
    assert r.distinct == len(classes)
    assert r.distinct_by_inclusion_exclusion == len(classes)
    assert r.reduction_violations == 0
    assert r.complete


def test_census_three_atoms_against_exact_rational_evaluation():
    """All 65,536 pairs, each ratio evaluated exactly (Fractions) at 3 random rational points.

    A false merge needs the non-zero polynomial t1*b2 - t2*b1 (total degree <= 6) to vanish
    at all 3 points drawn from 10^9 values per coordinate: probability <= (6e-9)^3 per pair
    of classes, below 1e-15 over all of them.
    """
    rng = random.Random(7)
    points = [[Fraction(rng.randrange(1, 10**9), 10**9 + 7) for _ in range(3)] for _ in range(3)]

    def wmc(m, x):
        total = Fraction(0)
        for k in world_sets(m, 3):
            w = Fraction(1)
            for i in range(3):
                w *= x[i] if (k >> i) & 1 else 1 - x[i]
            total += w
        return total

    values = [[wmc(m, x) for x in points] for m in range(256)]
    classes = set()
    for t in range(1, 256):
        for b in range(1, 256):
            if t != b:
                classes.add(tuple(values[t][j] / values[b][j] for j in range(3)))
    r = census(3)
    assert r.distinct == len(classes)
    assert r.degenerate == 3 * 256 - 2
    assert r.reduction_violations == 0


def test_pairs_computing_a_zoo_loss():
    """CE's ratio w_pc/(1 - w_pc) is reached from (g*t, g*b) for g in {1, w_pr, 1 - w_pr}:
    3 pairs. CPO's w_pc/w_pr admits no g (a product with w_pc or w_pr is no longer
    multilinear, and any other g must avoid both atoms): 1 pair."""
    r = census(2)
    assert r.targets["CE"] == {"canonical": 3, "fingerprint": 3}
    assert r.targets["CPO"] == {"canonical": 1, "fingerprint": 1}
    assert r.targets["fUnl"]["canonical"] == 3


def test_census_is_resumable_and_parallel(tmp_path):
    state = tmp_path / "census.json"
    partial = census(3, state=state, chunk=16, max_seconds=0)
    assert not partial.complete and partial.rows_done == 16
    resumed = census(3, state=state, chunk=16)
    assert resumed.complete and resumed.resumed_rows == 16
    fresh = census(3, workers=2, chunk=16)
    for field in ("degenerate", "distinct", "reduction_violations"):
        assert getattr(resumed, field) == getattr(fresh, field)


# ---------------------------------------------------------------- neighbours


def brute_neighbours(ok0: int, bad0: int, n: int):
    """Every pair differing from (ok0, bad0) in the membership of exactly one world.

    For two atoms all 256 pairs are scanned; for four, the candidates are the pairs
    obtained by toggling ok and/or bad at one world (the same set, without 2^32 scans).
    """
    full = (1 << (1 << n)) - 1
    if n <= 2:
        candidates = [(ok, bad) for ok in range(full + 1) for bad in range(full + 1)]
    else:
        candidates = [(ok0 ^ (a << k), bad0 ^ (b << k)) for k in range(1 << n)
                      for a in (0, 1) for b in (0, 1)]
    out = {}
    for ok, bad in candidates:
        diff = (ok ^ ok0) | (bad ^ bad0)
        if diff and diff & (diff - 1) == 0:
            o, b = world_sets(ok, n), world_sets(bad, n)
            o0, b0 = world_sets(ok0, n), world_sets(bad0, n)
            stronger = o <= o0 and b >= b0
            weaker = o0 <= o and b0 >= b
            out[ok, bad] = "stronger" if stronger else "weaker" if weaker else "incomparable"
    return out


@pytest.mark.parametrize("name", ["CPO", "ORPO", "CE", "unCPO", "DPO"])
def test_neighbours_against_brute_force(zoo, name):
    s = zoo.structure(name)
    n = len(s.atoms)
    hood = neighbours(s, [zoo.structure(x) for x in zoo.names_of("structure")])
    got = {(m.structure.ok_mask, m.structure.bad_mask): m.relation for m in hood.neighbours}
    assert got == brute_neighbours(s.ok_mask, s.bad_mask, n)
    assert len(hood.neighbours) == 3 * (1 << n)
    # Groups: same loss function iff the ratios agree numerically at random points.
    rng = random.Random(1)
    pts = [[rng.uniform(0.05, 0.95) for _ in range(n)] for _ in range(3)]

    def ratio(m):
        ok, bad = m.structure.ok_mask, m.structure.bad_mask
        if m.degeneracy is not None:
            return m.degeneracy.name

        def wmc(r, x):
            return sum(_weight(k, x) for k in world_sets(r, n))

        return tuple(round(wmc(ok, x) / wmc(bad, x), 9) for x in pts)

    keys = {ratio(g.members[0]) for g in hood.groups}
    assert len(keys) == len(hood.groups)
    for g in hood.groups:
        assert {ratio(m) for m in g.members} == {ratio(g.members[0])}


def _weight(k: int, x) -> float:
    w = 1.0
    for i, xi in enumerate(x):
        w *= xi if (k >> i) & 1 else 1 - xi
    return w


def test_cCPO_is_one_edit_weaker_than_CPO(zoo):
    """The paper's cCPO: move TT from both to ok only."""
    hood = neighbours(zoo.structure("CPO"), [zoo.structure("cCPO")])
    (m,) = [m for m in hood.neighbours if m.same_as == ("cCPO",)]
    assert (m.world.short, m.before, m.after, m.relation) == ("TT", "both", "ok", "weaker")


def test_degenerate_neighbours_are_marked(zoo):
    """ORPO is (TF / FT): emptying TF leaves ok empty (+inf), emptying FT leaves bad empty."""
    hood = neighbours(zoo.structure("ORPO"))
    marks = {m.edit: m.degeneracy for m in hood.neighbours}
    assert marks["TF: ok -> neither"] is Degeneracy.INFINITE
    assert marks["FT: bad -> neither"] is Degeneracy.ZERO
    assert marks["TF: ok -> both"] is None


def test_merged_neighbours_compute_the_same_loss():
    """Origin (TT / FT FF) has ratio w_pc w_pr / (1 - w_pc). Its edit FF: bad -> neither gives
    (TT / FT) = w_pc w_pr / ((1 - w_pc) w_pr) = w_pc / (1 - w_pc): CE's loss, not the origin's."""
    s = Structure.from_masks("x", SINGLE, 0b1000, 0b0101)
    hood = neighbours(s)
    (m,) = [m for m in hood.neighbours if m.edit == "FF: bad -> neither"]
    assert m.same_loss_as_origin is False  # origin: w_pc w_pr / (1 - w_pc), not CE
    assert loss_key(m.structure.ok_mask, m.structure.bad_mask, 2) == loss_key(0b1010, 0b0101, 2)


# ---------------------------------------------------------------- CLI and pictures


def test_cli_contract(tmp_path):
    import json

    from logicpo.cli import main

    runner = CliRunner()
    out = runner.invoke(main, ["decompile", "--json", "-logsigmoid(pc - pr - log1mexp(pc))"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    for key in ("name", "atoms", "ok", "bad", "core", "cond", "add", "closed_form", "f",
                "params"):
        assert key in data
    assert (data["name"], data["f"], data["ok"], data["bad"]) == ("cCPO", "logistic",
                                                                 ["11", "10"], ["01"])
    bad = runner.invoke(main, ["decompile", "__import__('os').system('ls')"])
    assert bad.exit_code == 1 and "^" in bad.output
    png = tmp_path / "hood.png"
    out = runner.invoke(main, ["neighbors", "CPO", "--json", "--png", str(png)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["neighbours"] == 12 and png.stat().st_size > 0
    out = runner.invoke(main, ["census", "--atoms", "2", "--json", "--method", "enumerate",
                               "-j", "1"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["distinct"] == 186  # checked against SymPy above
    out = runner.invoke(main, ["census", "--atoms", "2"])
    assert out.exit_code == 0 and "distinct" in out.output


def test_zoo_lattice_picture():
    from logicpo.plots.landscape import draw_zoo_lattice

    assert len(draw_zoo_lattice().axes) == 1


# ---------------------------------------------------------------- readable neighbourhoods


def _crosses(p, q, box) -> bool:
    """Does the segment p-q meet the open rectangle box = (x0, y0, x1, y1)? (Clipped
    against the rectangle by Liang-Barsky; written here, independent of the plotting code.)"""
    (x0, y0, x1, y1), (px, py), (qx, qy) = box, p, q
    t0, t1 = 0.0, 1.0
    for d, lo, hi, start in ((qx - px, x0, x1, px), (qy - py, y0, y1, py)):
        if d == 0:
            if not lo < start < hi:
                return False
            continue
        a, b = (lo - start) / d, (hi - start) / d
        t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
    return t1 - t0 > 1e-9


def test_zoo_lattice_edges_never_cross_a_node(zoo):
    from logicpo.plots.lattice import NODE_H, NODE_W, ROW_GAP, SPACING, layout, route_edges
    from logicpo.reasoning.lattice import Lattice

    lat = Lattice.build([zoo.structure(n) for n in zoo.names_of("structure")])
    pos = {n: (x * SPACING, y * ROW_GAP) for n, (x, y) in layout(lat).items()}
    for (a, b), points in route_edges(lat, pos).items():
        for p, q in zip(points, points[1:], strict=False):
            for node, (x, y) in pos.items():
                box = (x - NODE_W / 2, y - NODE_H / 2, x + NODE_W / 2, y + NODE_H / 2)
                assert not _crosses(p, q, box), (a, b, node)


@pytest.mark.parametrize("name", ["CPO", "ORPO", "CE", "unCPO", "fUnl"])
def test_neighbourhood_edges_never_cross_a_node(zoo, name):
    from logicpo.plots.landscape import neighbourhood_layout
    from logicpo.plots.lattice import NODE_H, NODE_W, route_edges

    hood = neighbours(zoo.structure(name), [zoo.structure(x) for x in zoo.names_of("structure")])
    lat, pos, _ = neighbourhood_layout(hood)
    boxes = {n: (x - NODE_W / 2, y - NODE_H / 2, x + NODE_W / 2, y + NODE_H / 2)
             for n, (x, y) in pos.items()}
    for (a, b), points in route_edges(lat, pos).items():
        assert points[0][1] == pytest.approx(boxes[a][1]) and points[-1][1] == \
            pytest.approx(boxes[b][3])  # leaves a's bottom side, arrives on b's top side
        for p, q in zip(points, points[1:], strict=False):
            for node, box in boxes.items():
                assert not _crosses(p, q, box), (a, b, node)


def test_neighbourhood_layout_by_relation(zoo):
    """Stronger neighbours (they entail CPO) above CPO, weaker below, incomparable ones
    (ORPO: TT both -> neither, and FF neither -> both) in a column right of all others."""
    from logicpo.plots.landscape import neighbourhood_layout

    hood = neighbours(zoo.structure("CPO"))
    _, pos, member = neighbourhood_layout(hood)
    (origin,) = [n for n, m in member.items() if m is None]
    ox, oy = pos[origin]
    side = [pos[n][0] for n, m in member.items() if m and m.relation == "incomparable"]
    main = [pos[n][0] for n, m in member.items() if not m or m.relation != "incomparable"]
    assert len(side) == 2 and min(side) > max(main)
    for n, m in member.items():
        if m is not None and m.relation == "stronger":
            assert pos[n][1] > oy
        if m is not None and m.relation == "weaker":
            assert pos[n][1] < oy


def test_big_neighbourhood_is_a_summary(zoo):
    """DPO's 48 neighbours: one cell per (world, new state), 16 x 4 = 64 cells, of which
    16 are DPO itself; each of the 48 others carries its loss number."""
    from matplotlib.patches import Rectangle

    from logicpo.plots.landscape import draw_neighbourhood

    fig = draw_neighbourhood(neighbours(zoo.structure("DPO")))
    (ax,) = fig.axes
    assert sum(isinstance(p, Rectangle) for p in ax.patches) == 64
    texts = [t.get_text() for t in ax.texts]
    assert sorted(int(t[1:].split()[0]) for t in texts if t[:2] != "#k" and t[:1] == "#") == list(
        range(1, 49))
    assert sum(t == "= DPO" for t in texts) == 16


def test_same_core_same_colour_in_every_picture(zoo):
    """CPO's core M(yl) -> M(yw), written M(yw) | ~M(yl) in a user's file, is the same
    formula, so it gets the same colour; the lattice and the neighbourhood agree; the
    degenerate legend entry is drawn exactly like the degenerate nodes."""
    from matplotlib.colors import to_hex

    from logicpo.plots.landscape import draw_neighbourhood
    from logicpo.plots.lattice import core_colour, draw_lattice
    from logicpo.program import load_text
    from logicpo.reasoning.lattice import Lattice

    mine = load_text("structure mine { core: M(yw) | ~M(yl)  cond: M(yw) xor M(yl) }")
    assert core_colour(mine.structure("mine")) == core_colour(zoo.structure("CPO"))
    lat_fig = draw_lattice(Lattice.build([zoo.structure(n) for n in ("CPO", "CE", "fUnl")]))
    hood_fig = draw_neighbourhood(neighbours(zoo.structure("ORPO")))

    def fills(fig):  # node label -> fill of the box under it
        ax = fig.axes[0]
        boxes = [p for p in ax.patches if type(p).__name__ == "FancyBboxPatch"]
        return {t.get_text(): to_hex(p.get_facecolor()) for t in ax.texts for p in boxes
                if p.contains_point(ax.transData.transform(t.get_position()))}

    assert fills(hood_fig)["ORPO"] == fills(lat_fig)["CPO"]  # one core, M(yl) -> M(yw)
    assert fills(lat_fig)["CE"] != fills(lat_fig)["CPO"]
    ax = hood_fig.axes[0]
    boxes = [p for p in ax.patches if type(p).__name__ == "FancyBboxPatch"]
    legend = ax.get_legend()
    assert "colour = core formula P" in legend.get_title().get_text()
    (deg,) = [h for h, t in zip(legend.legend_handles, legend.get_texts(), strict=True)
              if t.get_text().startswith("degenerate")]
    hatched = [p for p in boxes if p.get_hatch()]
    assert len(hatched) == 4  # ORPO's 4 degenerate neighbours (see the test above)
    for p in hatched:
        assert (p.get_hatch(), to_hex(p.get_facecolor()), to_hex(p.get_edgecolor())) == (
            deg.get_hatch(), to_hex(deg.get_facecolor()), to_hex(deg.get_edgecolor()))


def test_neighbour_definitions_paste_back(zoo):
    """Each neighbour's DSL line, loaded as a .lpo text, defines exactly its regions."""
    from logicpo.program import load_text

    hood = neighbours(zoo.structure("CPO"), [zoo.structure(x) for x in zoo.names_of("structure")])
    program = load_text("\n".join(m.definition for m in hood.neighbours))
    for m in hood.neighbours:
        s = program.structure(m.structure.name)
        assert (s.ok_mask, s.bad_mask) == (m.structure.ok_mask, m.structure.bad_mask), m.edit


def test_cli_neighbors_svg_and_dsl(tmp_path):
    from logicpo.cli import main

    svg = tmp_path / "hood.svg"
    out = CliRunner().invoke(main, ["neighbors", "CPO", "--svg", str(svg)])
    assert out.exit_code == 0, out.output
    assert "<svg" in svg.read_text()
    assert "structure CPO_TT_ok { core: M(yl) -> M(yw)  cond: M(yw) | M(yl) }" in out.output
