"""Start-up (issue 14, goal 3): what each command imports, the lazy command table, and the
parser's cache file. No test here measures a time (benchmarks/bench_startup.py does)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from logicpo.cli import AREAS, COMMAND_AREAS
from logicpo.syntax import parser

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sympy", "z3", "networkx", "matplotlib", "numpy")


def _imported_after(args: list[str], tmp_path: Path) -> tuple[dict, str]:
    """Run the CLI with ``args`` in a fresh interpreter; which heavy packages it loaded."""
    code = ("import sys\nfrom logicpo.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "import json\n"
            f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOGICPO_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stdout


def test_check_imports_neither_torch_nor_sympy_nor_z3(tmp_path):
    """check needs the parser and bit-masks only, for every kind of definition: formulas,
    structures by (core, cond, add) and by regions, ref/flip, objectives and imports."""
    (tmp_path / "lib.lpo").write_text("formula w = M(yw) & ~Ref(yl)\n")
    f = tmp_path / "a.lpo"
    f.write_text('import "lib.lpo"\nstructure A { core: w  cond: M(yw) | M(yl) }\n'
                 "structure B { ok: M(yw)  bad: M(yl) }\nstructure C = ref(flip(B))\n"
                 "objective o = 0.5*logistic(A, beta=0.1) + hinge(C)\n")
    loaded, out = _imported_after(["check", str(f)], tmp_path)
    assert "3 structures" in out, out  # it did check the file
    assert loaded == dict.fromkeys(HEAVY, False), loaded


def test_check_still_reports_degenerate_structures_without_sympy(tmp_path):
    f = tmp_path / "d.lpo"
    f.write_text("structure Z { ok: M(yw)  bad: false }\n")
    loaded, out = _imported_after(["check", str(f)], tmp_path)
    assert "bad is empty" in out or "degenerate" in out, out
    assert not loaded["sympy"] and not loaded["torch"]


def test_lattice_json_of_files_needs_no_sympy(tmp_path):
    f = tmp_path / "l.lpo"
    f.write_text("structure A { ok: M(yw)  bad: M(yl) }\nstructure B { ok: M(yw) & M(yl)  bad: M(yl) }\n")
    loaded, out = _imported_after(["lattice", "--file", str(f), "--json"], tmp_path)
    assert '"edges"' in out
    assert not loaded["sympy"] and not loaded["z3"] and not loaded["torch"]


def test_the_command_table_names_exactly_what_each_area_registers():
    """The CLI imports a command's area from this table; it must be complete and true."""
    import importlib

    registered = {}
    for area in AREAS:
        group = click.Group()
        importlib.import_module(f"logicpo.cli.{area}").register(group)
        registered.update(dict.fromkeys(group.commands, area))
    assert registered == COMMAND_AREAS


def test_a_command_loads_only_its_own_area():
    code = ("import sys\nfrom logicpo.cli import main\n"
            "try:\n    main(['check', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.endswith('_cmds')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "['logicpo.cli.logic_cmds']"


def test_help_lists_every_command():
    from click.testing import CliRunner

    from logicpo.cli import main

    out = CliRunner().invoke(main, ["--help"]).output
    for name in COMMAND_AREAS:
        assert f"  {name} " in out, name


# ---------------------------------------------------------------- the parser's cache file


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGICPO_CACHE_DIR", str(tmp_path / "c"))
    parser.lark_parser.cache_clear()
    yield tmp_path / "c"
    parser.lark_parser.cache_clear()


def _zoo_asts():
    from logicpo.program import zoo_source

    file, text = zoo_source()
    return parser.parse_program(text, file)


def test_the_parser_is_written_to_its_cache_file_and_loaded_from_it(cache, monkeypatch):
    built = _zoo_asts()
    path = parser.parser_cache_file()
    assert path.parent == cache and path.is_file()
    assert not [p for p in cache.iterdir() if p != path]  # no temporary file left behind
    parser.lark_parser.cache_clear()

    def no_build(*args, **kwargs):
        raise AssertionError("the parser was built again instead of loaded")

    monkeypatch.setattr(parser.Lark, "__init__", no_build)
    assert _zoo_asts() == built  # loaded: same trees, spans and all


def test_a_corrupt_cache_file_is_rebuilt(cache):
    path = parser.parser_cache_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a pickle")
    assert parser.parse_formula("M(yl) -> M(yw)") is not None
    assert path.read_bytes() != b"not a pickle"  # replaced by a good one
    parser.lark_parser.cache_clear()
    assert parser.parse_formula("M(yw)") is not None


def test_an_unwritable_cache_directory_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("LOGICPO_CACHE_DIR", str(blocker / "sub"))  # a file is in the way
    parser.lark_parser.cache_clear()
    try:
        assert parser.parse_formula("M(yw) & M(yl)") is not None
    finally:
        parser.lark_parser.cache_clear()
    assert blocker.read_text() == "x"


def test_the_cache_file_name_follows_the_grammar(cache):
    assert parser.parser_cache_file("a") != parser.parser_cache_file("b")
    assert parser.parser_cache_file() == parser.parser_cache_file(parser.grammar_text())


def test_cache_dir_follows_xdg_when_logicpo_cache_dir_is_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("LOGICPO_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert parser.cache_dir() == tmp_path / "logicpo"
