"""`show` says where a structure stands among the zoo's, and reads it out in plain words.

The expected standings are computed here by brute force from the spec's table of named
structures (section 5), written out as sets of worlds: never from logicpo's own code.
"""

from __future__ import annotations

import json
from itertools import product

from click.testing import CliRunner

from logicpo.cli import main

# Spec section 5, worlds over (M(yw), M(yl)) spelled as the paper does.
SPEC = {
    "CE": ("TT TF", "FT FF"), "CEUnl": ("TF", "TT FT FF"), "CPO": ("TT TF", "TT FT"),
    "ORPO": ("TF", "FT"), "cCPO": ("TT TF", "FT"), "unCPO": ("TT TF FF", "FT"),
    "cfUnl": ("TF FF", "FT"), "qfUnl": ("TF FF", "FT FF"), "fUnl": ("TF FF", "TT FT"),
    "cUNL": ("TF", "TT FT"), "l20": ("TF FF", "TT FT FF"), "sCE": ("TT TF", "TT FT FF"),
}
REGIONS = {n: (frozenset(ok.split()), frozenset(bad.split())) for n, (ok, bad) in SPEC.items()}
WORLDS = ["".join("T" if v else "F" for v in w) for w in product([True, False], repeat=2)]


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # warnings (a shadowed zoo name) go to standard error


def brute_regions(ok_pred, bad_pred):
    """The regions of two predicates on (yw valid, yl valid), enumerated world by world."""
    ok = frozenset(w for w in WORLDS if ok_pred(w[0] == "T", w[1] == "T"))
    bad = frozenset(w for w in WORLDS if bad_pred(w[0] == "T", w[1] == "T"))
    return ok, bad


def entails(a, b):
    """Spec section 4: ok_a <= ok_b and bad_a >= bad_b."""
    return a[0] <= b[0] and a[1] >= b[1]


def nearest(mine):
    above = [n for n, r in REGIONS.items() if r != mine and entails(r, mine)]
    below = [n for n, r in REGIONS.items() if r != mine and entails(mine, r)]
    near_above = [n for n in above
                  if not any(o != n and entails(REGIONS[n], REGIONS[o]) for o in above)]
    near_below = [n for n in below
                  if not any(o != n and entails(REGIONS[o], REGIONS[n]) for o in below)]
    return near_above, near_below


def test_xone_has_the_regions_of_orpo(tmp_path):
    """The issue's repro: xone, written as its own regions, is ORPO's structure."""
    f = tmp_path / "mine.lpo"
    f.write_text("structure xone { ok: M(yw) & ~M(yl)  bad: M(yl) & ~M(yw) }\n")
    xone = brute_regions(lambda yw, yl: yw and not yl, lambda yw, yl: yl and not yw)
    same = [n for n, r in REGIONS.items() if r == xone]
    assert same == ["ORPO"]  # the brute-force oracle itself: only ORPO
    text = run("show", f"{f}:xone")
    assert "xone has the same regions as ORPO" in text
    data = json.loads(run("show", f"{f}:xone", "--json"))
    assert data["standing"]["same_regions"] == same
    above, below = nearest(xone)
    assert (above, below) == (["cUNL"], ["cCPO", "cfUnl"])  # by hand: TF/TT FT; TT TF/FT; ...
    assert data["standing"]["nearest_stronger"] == above
    assert data["standing"]["nearest_weaker"] == below
    assert data["standing"]["prefers_loser"] is False


def test_every_single_model_zoo_structure_against_brute_force():
    """For each of the spec's twelve: no other has the same regions, and the nearest
    stronger and weaker ones are those the world sets give."""
    for name, mine in REGIONS.items():
        data = json.loads(run("show", name, "--json"))["standing"]
        assert data["same_regions"] == [n for n, r in REGIONS.items() if r == mine and n != name]
        above, below = nearest(mine)
        assert data["nearest_stronger"] == above, name
        assert data["nearest_weaker"] == below, name


def test_a_user_structure_shadowing_a_zoo_name_is_compared_with_the_zoos(tmp_path):
    f = tmp_path / "mine.lpo"
    f.write_text("structure CPO { core: M(yw) }\n")  # regions TT TF / FT FF: CE's
    data = json.loads(run("show", f"{f}:CPO", "--json"))
    assert data["standing"]["same_regions"] == ["CE"]


def test_flipped_reference_version_is_named_and_prefers_the_loser(tmp_path):
    """flip(ref(xone)): ok = M(yl) & ~M(yw) & Ref(yw), bad = M(yw) & ~M(yl) & Ref(yl),
    which is refORPO with its regions swapped."""
    f = tmp_path / "mine.lpo"
    f.write_text("structure xone { ok: M(yw) & ~M(yl)  bad: M(yl) & ~M(yw) }\n"
                 "structure back { ok: M(yl) & ~M(yw) & Ref(yw)"
                 "  bad: M(yw) & ~M(yl) & Ref(yl) }\n")
    data = json.loads(run("show", f"{f}:back", "--json"))
    expressions = [m["expression"] for m in data["standing"]["matches"]]
    assert "flip(ref(ORPO))" in expressions and "flip(refORPO)" in expressions
    assert data["standing"]["same_regions"] == []
    assert data["standing"]["prefers_loser"] is True
    assert "prefers the loser" in run("show", f"{f}:back")


def test_reading_names_each_kind_of_world(tmp_path):
    """CPO by hand: TF for, FT against, TT on both sides, FF ignored."""
    data = json.loads(run("show", "CPO", "--json"))
    text = data["reading"]
    assert "for the preference (✓) when the policy deems yw valid and yl not valid" in text
    assert "against it (✗) when the policy deems yl valid and yw not valid" in text
    assert "where the policy deems both yw and yl valid count on both sides" in text
    assert "ignores the worlds where the policy deems neither yw nor yl valid" in text


def test_reading_of_a_degenerate_structure_says_so(tmp_path):
    f = tmp_path / "d.lpo"
    f.write_text("structure z { ok: M(yw)  bad: false }\n")
    result = CliRunner().invoke(main, ["show", f"{f}:z", "--json"], catch_exceptions=False)
    data = json.loads(result.stdout)
    assert data["reading"].startswith("z is degenerate: bad is empty")


# ---------------------------------------------------------------- lattice --zoo --file


def lattice_json(*args):
    return json.loads(run("lattice", *args, "--json"))


def test_lattice_zoo_file_puts_the_users_structures_in_the_lattice(tmp_path):
    """mine = TT TF / FT is cCPO's regions (spec table): one node, marked as the user's;
    odd = TT / FF is no zoo structure's: a node of its own, also the user's."""
    f = tmp_path / "mine.lpo"
    f.write_text("structure mine { ok: M(yw)  bad: M(yl) & ~M(yw) }\n"
                 "structure odd { ok: M(yw) & M(yl)  bad: ~M(yw) & ~M(yl) }\n")
    mine = brute_regions(lambda yw, yl: yw, lambda yw, yl: yl and not yw)
    assert [n for n, r in REGIONS.items() if r == mine] == ["cCPO"]
    data = lattice_json("--zoo", "--single-model", "--file", str(f))
    assert "cCPO=mine" in data["nodes"] and "odd" in data["nodes"]
    assert len(data["nodes"]) == 13  # the spec's 12 distinct structures, plus odd
    assert sorted(data["yours"]) == ["mine", "odd"]
    assert sorted(data["user_nodes"]) == ["cCPO=mine", "odd"]
    # odd (TT / FF) against the spec table: ok {TT} is inside every ok holding TT, but bad
    # {FF} must contain their bad, which only bad sets within {FF} do: none of the twelve.
    odd = (frozenset({"TT"}), frozenset({"FF"}))
    assert not any(entails(r, odd) or entails(odd, r) for r in REGIONS.values())
    assert not any("odd" in e for e in data["edges"])
    assert "(yours)" in run("lattice", "--zoo", "--single-model", "--file", str(f))


def test_lattice_a_shadowing_name_keeps_the_zoos_node(tmp_path):
    """A user 'CPO' with CE's regions (TT TF / FT FF): the zoo's CPO stays a node with its
    own regions, and the user's is named after its file and merged with CE."""
    f = tmp_path / "mine.lpo"
    f.write_text("structure CPO { core: M(yw) }\n")
    data = lattice_json("--zoo", "--single-model", "--file", str(f))
    assert "CPO" in data["nodes"] and "CE=mine.lpo:CPO" in data["nodes"]
    assert data["yours"] == ["mine.lpo:CPO"]
    # The zoo's CPO keeps its place: CPO -> cCPO (TT TF / TT FT entails TT TF / FT).
    assert entails(REGIONS["CPO"], REGIONS["cCPO"])
    assert ["CPO", "cCPO"] in data["edges"]


def test_lattice_picture_frames_the_users_nodes(tmp_path):
    f = tmp_path / "mine.lpo"
    f.write_text("structure odd { ok: M(yw) & M(yl)  bad: ~M(yw) & ~M(yl) }\n")
    with_user, without = tmp_path / "with.svg", tmp_path / "without.svg"
    run("lattice", "--zoo", "--single-model", "--file", str(f), "--svg", str(with_user))
    run("lattice", "--zoo", "--single-model", "--svg", str(without))
    from logicpo.plots.lattice import YOURS_COLOUR

    assert YOURS_COLOUR.lower() in with_user.read_text().lower()
    assert "stroke-dasharray" in with_user.read_text()
    assert YOURS_COLOUR.lower() not in without.read_text().lower()


# ---------------------------------------------------------------- objectives by their structures

# Regions as predicates on (M(yw), M(yl), Ref(yw), Ref(yl)), from the spec (sections 3, 5).
PRED = {
    "CPO": (lambda mw, ml, rw, rl: mw, lambda mw, ml, rw, rl: ml),
    "CE": (lambda mw, ml, rw, rl: mw, lambda mw, ml, rw, rl: not mw),
    "cCPO": (lambda mw, ml, rw, rl: mw, lambda mw, ml, rw, rl: ml and not mw),
    "DPO": (lambda mw, ml, rw, rl: mw and rl, lambda mw, ml, rw, rl: ml and rw),
}


def worlds4(name):
    ok, bad = PRED[name]
    ws = list(product([True, False], repeat=4))
    return frozenset(w for w in ws if ok(*w)), frozenset(w for w in ws if bad(*w))


def relation(a, b):
    ab, ba = entails(worlds4(a), worlds4(b)), entails(worlds4(b), worlds4(a))
    return {(True, True): "equivalent", (True, False): "stronger",
            (False, True): "weaker", (False, False): "incomparable"}[ab, ba]


def test_compare_a_structure_with_a_trl_loss_name():
    """simpo is logistic(CPO, gamma=0.5, normalize=length): compared through CPO."""
    data = json.loads(run("compare", "DPO", "simpo", "--json"))
    assert (data["a"], data["b"]) == ("DPO", "CPO")
    assert data["relation"] == relation("DPO", "CPO") == "incomparable"
    assert len(data["notes"]) == 1 and "simpo is an objective" in data["notes"][0]
    assert "using its structure CPO" in data["notes"][0]


def test_compare_two_losses_of_one_structure_does_not_claim_equal_losses():
    """sigmoid (logistic) and hinge share DPO: the structures are equivalent, but the two
    losses differ, so the summary must not say that they compute the same loss."""
    data = json.loads(run("compare", "sigmoid", "hinge", "--json"))
    assert data["relation"] == "equivalent"
    assert "the structures DPO and DPO are equivalent" in data["summary"]
    assert "they compute the same loss" not in data["summary"]
    assert len(data["notes"]) == 2


def test_compare_structures_alone_keeps_its_summary():
    data = json.loads(run("compare", "CPO", "cCPO", "--json"))
    assert data["relation"] == relation("CPO", "cCPO") == "stronger"
    assert data["notes"] == [] and data["summary"].startswith("CPO is stronger than cCPO")


def test_compare_a_multi_structure_objective_term_by_term():
    """cpo_full = logistic(CPO) + sft, and sft is logistic(CE): two pairs against DPO."""
    data = json.loads(run("compare", "cpo_full", "DPO", "--json"))
    pairs = [(r["a"], r["b"], r["relation"]) for r in data["term_by_term"]]
    assert pairs == [("CPO", "DPO", relation("CPO", "DPO")),
                     ("CE", "DPO", relation("CE", "DPO"))]
    text = run("compare", "cpo_full", "DPO")
    assert "term by term (2 pairs of structures)" in text


def test_lattice_of_loss_names_uses_their_structures():
    data = lattice_json("sigmoid", "simpo", "cCPO")
    assert sorted(data["nodes"]) == ["CPO", "DPO", "cCPO"]
    names = ["DPO", "CPO", "cCPO"]
    expected = sorted([a, b] for a in names for b in names
                      if a != b and relation(a, b) == "stronger")
    assert sorted(data["edges"]) == expected == [["CPO", "cCPO"]]
    assert len(data["notes"]) == 2


def test_neighbors_of_a_loss_name_and_of_a_multi_structure_objective():
    data = json.loads(run("neighbors", "simpo", "--json"))
    assert data["name"] == "CPO" and "simpo is an objective" in data["notes"][0]
    result = CliRunner().invoke(main, ["neighbors", "cpo_full"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "cpo_full is an objective with 2 structures (CPO, CE)" in result.output


def test_show_objective_gives_each_terms_structure_its_standing(tmp_path):
    f = tmp_path / "mine.lpo"
    f.write_text(XONE_FILE + "objective mine = logistic(xone) + 0.5*sft\n")
    data = json.loads(run("show", f"{f}:mine", "--json"))
    # sft is logistic(CE): CE's regions are its own (spec table: no other has TT TF / FT FF).
    assert [t["standing"]["same_regions"] for t in data["terms"]] == [["ORPO"], []]
    assert [n for n, r in REGIONS.items() if r == REGIONS["CE"]] == ["CE"]
    assert "standing of xone" in run("show", f"{f}:mine")


XONE_FILE = "structure xone { ok: M(yw) & ~M(yl)  bad: M(yl) & ~M(yw) }\n"


def test_lattice_a_users_objective_over_a_zoo_structure_keeps_it_the_zoos(tmp_path):
    """objective o = logistic(DPO) + logistic(ref(mine)): DPO stays the zoo's node (not
    renamed, not marked), ref(mine) is the user's."""
    f = tmp_path / "mine.lpo"
    f.write_text("structure mine { ok: M(yw) & M(yl)  bad: ~M(yw) & ~M(yl) }\n"
                 "objective o = logistic(DPO) + logistic(ref(mine))\n")
    data = lattice_json("o", "--file", str(f))
    assert sorted(data["nodes"]) == ["DPO", "ref(mine)"]
    assert data["yours"] == ["ref(mine)"]


def test_standing_of_every_single_model_structure_against_brute_force():
    """All 256 (ok, bad) pairs over M(yw), M(yl): the same regions, flip matches and the
    nearest stronger and weaker zoo structures, each against world-set arithmetic on the
    spec's table."""
    from logicpo.display.standing import standing
    from logicpo.logic.structure import Structure
    from logicpo.program import zoo

    z = zoo()
    known = [z.structure(n) for n in REGIONS]

    def index(world: str) -> int:  # TF: M(yw) (bit 0) true, M(yl) (bit 1) false
        return sum(1 << i for i, c in enumerate(world) if c == "T")

    for ok_mask in range(16):
        for bad_mask in range(16):
            ok = frozenset(w for w in WORLDS if (ok_mask >> index(w)) & 1)
            bad = frozenset(w for w in WORLDS if (bad_mask >> index(w)) & 1)
            mine = (ok, bad)
            got = standing(Structure.from_masks("x", ("M(yw)", "M(yl)"), ok_mask, bad_mask),
                           known)
            assert list(got.same_regions) == [n for n, r in REGIONS.items() if r == mine]
            flips = [m.name for m in got.matches if m.relation == "flip"]
            assert flips == [n for n, (o, b) in REGIONS.items() if (b, o) == mine]
            above, below = nearest(mine)
            # Zoo structures with identical regions share a node: none do in the spec table.
            assert list(got.stronger) == above and list(got.weaker) == below


def test_same_loss_with_other_regions_against_float64_world_weights():
    """For all 256 single-model pairs: the zoo structures with other regions whose ratio
    WMC(ok)/WMC(bad) is the same function, decided here by evaluating both ratios at random
    weights in float64 (world by world), not by logicpo's canonical form. The docs' example
    (TT / FT) has ratio w_pc w_pr / ((1 - w_pc) w_pr) = w_pc / (1 - w_pc): CE's."""
    import random

    from logicpo.display.standing import standing
    from logicpo.logic.structure import Structure
    from logicpo.program import zoo

    z = zoo()
    known = [z.structure(n) for n in REGIONS]
    rng = random.Random(11)
    points = [(rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)) for _ in range(3)]

    def wmc(region, wy, wl):
        return sum((wy if w[0] == "T" else 1 - wy) * (wl if w[1] == "T" else 1 - wl)
                   for w in region)

    def ratios(ok, bad):
        return [wmc(ok, *p) / wmc(bad, *p) if wmc(bad, *p) else None for p in points]

    def index(world: str) -> int:
        return sum(1 << i for i, c in enumerate(world) if c == "T")

    seen_ce = False
    for ok_mask in range(16):
        for bad_mask in range(16):
            ok = frozenset(w for w in WORLDS if (ok_mask >> index(w)) & 1)
            bad = frozenset(w for w in WORLDS if (bad_mask >> index(w)) & 1)
            mine = ratios(ok, bad)
            expected = []
            if ok and bad and ok != bad:
                for n, (zo, zb) in REGIONS.items():
                    theirs = ratios(zo, zb)
                    if (zo, zb) != (ok, bad) and all(
                            abs(a - b) <= 1e-9 * abs(b) for a, b in zip(mine, theirs, strict=True)):
                        expected.append(n)
            got = standing(Structure.from_masks("x", ("M(yw)", "M(yl)"), ok_mask, bad_mask),
                           known)
            assert list(got.same_loss) == expected, (sorted(ok), sorted(bad))
            if (ok, bad) == (frozenset({"TT"}), frozenset({"FT"})):
                assert expected == ["CE"]
                seen_ce = True
    assert seen_ce
