"""Issue 10, files and command lines: what a command reads, what it writes, how it parses.

Each test here failed on the code before the fix it names.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from logicpo.cli import main


def said(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


# ---------------------------------------------------------------- decompile's command line


@pytest.fixture()
def received(monkeypatch):
    """The expressions the decompiler is handed (it stops there with a usage error)."""
    import logicpo.decompiler as module
    from logicpo.errors import UsageError

    seen: list[tuple[str, int]] = []

    def spy(expr, file="<expr>", check_points=5, values=None):
        seen.append((expr, check_points))
        raise UsageError("stopped by the test")

    monkeypatch.setattr(module, "decompile", spy)
    return seen


@pytest.mark.parametrize("words", [
    ["-logsigmoid(policy_chosen_logps - policy_rejected_logps)"],  # TRL's names: an 'h'
    ["-logsigmoid(alpha*(pc - pr))"],
    ["-h*pc"],
    ["--pc"],
    ["-logsigmoid(pc", "-", "pr)"],
    ["--", "-h"],
    ["--", "--json"],
])
def test_decompile_reads_every_word_as_the_expression(run, received, words):
    """Before: click read '-logsigmoid(...policy...)' as short options; its 'h' was -h, so
    the help was printed with exit 0 and nothing was decompiled."""
    result = run("decompile", *words)
    expected = " ".join(w for w in words if w != "--")
    assert received == [(expected, 5)], result.output
    assert result.exit_code == 2 and "stopped by the test" in result.output


def test_decompile_options_still_work_around_the_expression(run, received):
    assert run("decompile", "--json", "-pc", "--points", "3").exit_code == 2
    assert run("decompile", "--points=7", "-logsigmoid(pc - pr)", "--json").exit_code == 2
    assert received == [("-pc", 3), ("-logsigmoid(pc - pr)", 7)]
    assert run("decompile", "--help").output.startswith("Usage: main decompile")
    assert run("decompile", "-h").output.startswith("Usage: main decompile")
    assert received == [("-pc", 3), ("-logsigmoid(pc - pr)", 7)]


def test_decompile_end_to_end_with_trl_names(run):
    """-logsigmoid(pc - pr) is CPO's loss at beta = 1 (spec section 5, single-model)."""
    result = run("decompile", "--json", "-logsigmoid(policy_chosen_logps - "
                 "policy_rejected_logps)")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["name"], data["f"]) == ("CPO", "logistic")


@pytest.mark.parametrize("points", ["-3", "0", "x"])
def test_decompile_points_must_be_a_positive_integer(run, received, points):
    """Before: --points -3 was accepted (and checked the round trip at no point)."""
    result = run("decompile", "--points", points, "-logsigmoid(pc - pr)")
    assert result.exit_code == 2 and "--points" in result.output
    assert received == []


def test_decompile_option_without_its_value(run, received):
    result = run("decompile", "-logsigmoid(pc - pr)", "--points")
    assert result.exit_code == 2 and "requires an argument" in result.output
    assert received == []


OPTION_WORDS = {"--", "-h", "--help", "--json", "--points", "--value"}  # the only words that are not text
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-()*+/ .0123456789", min_size=1,
               max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=WORD, rest=st.lists(WORD, max_size=3), as_json=st.booleans())
def test_fuzz_decompile_command_line_reads_expressions(first, rest, as_json):
    """Random words, the first starting with '-': all of them reach the decompiler, in order."""
    import logicpo.decompiler as module
    from logicpo.errors import UsageError

    seen = []

    def spy(expr, file="<expr>", check_points=5, values=None):
        seen.append(expr)
        raise UsageError("stopped by the test")

    words = ["-" + first, *rest]
    assume(not OPTION_WORDS.intersection(words))
    original = module.decompile
    module.decompile = spy
    try:
        result = CliRunner().invoke(main, ["decompile", *(["--json"] if as_json else []),
                                           *words], catch_exceptions=False)
    finally:
        module.decompile = original
    assert seen == [" ".join(words)], result.output
    assert result.exit_code == 2


# ---------------------------------------------------------------- one rule for every output


def _umask_mode() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _run_dir(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(
        json.dumps({"step": s, "loss": 0.7 - s / 10, "rewards/margins": s / 10}) + "\n"
        for s in range(3)))
    return run


WRITERS = {  # command line writing to the path {out}, and the file's expected first bytes
    "plot": (["plot", "sigmoid", "-o", "{out}.png"], b"\x89PNG"),
    "neighbors": (["neighbors", "CPO", "--png", "{out}.png"], b"\x89PNG"),
    "lattice png": (["lattice", "CPO", "cCPO", "--png", "{out}.png"], b"\x89PNG"),
    "lattice svg": (["lattice", "CPO", "cCPO", "--svg", "{out}.svg"], b"<?xml"),
    "data": (["data", "sort", "-n", "3", "-o", "{out}.jsonl"], b'{"prompt"'),
    "plot-run": (["plot-run", "{run}", "-o", "{out}.png"], b"\x89PNG"),
    "census state": (["census", "--atoms", "2", "--method", "enumerate", "-j", "1", "--state", "{out}.json"], b'{"atoms"'),
    "docs": (["docs", "--write", "--docs-dir", "{out}"], b"# The zoo"),
}


def _args(template, out, run):
    return [a.format(out=out, run=run) for a in template]


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writer_creates_the_directory_atomically_with_umask_permissions(run, tmp_path,
                                                                              name):
    """Before: plot, neighbors and data gave FileNotFoundError tracebacks for a missing
    directory, lattice refused, plot-run created it; lattice pictures were mode 0600."""
    template, magic = WRITERS[name]
    args = _args(template, tmp_path / "new" / "deeper" / "x", _run_dir(tmp_path))
    result = run(*args)
    assert result.exit_code == 0, result.output
    (written,) = [p for p in (tmp_path / "new" / "deeper").rglob("*") if p.is_file()]
    assert written.read_bytes().startswith(magic)
    assert written.stat().st_mode & 0o777 == _umask_mode()


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writer_refuses_a_parent_that_is_a_file_cleanly(run, tmp_path, name):
    template, _ = WRITERS[name]
    (tmp_path / "afile").write_text("keep me")
    result = run(*_args(template, tmp_path / "afile" / "x", _run_dir(tmp_path)))
    assert result.exit_code == 1, result.output
    assert "is a file, not a directory" in said(result)
    assert (tmp_path / "afile").read_text() == "keep me"


def test_a_failed_picture_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    import matplotlib.figure

    from logicpo.plots import save_figure
    from logicpo.plots.landscape import draw_zoo_lattice

    out = tmp_path / "z.png"
    out.write_bytes(b"old")

    def broken(self, fname, **kw):
        with open(fname, "wb") as fh:
            fh.write(b"half")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        save_figure(draw_zoo_lattice(), out)
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["z.png"]


def test_census_state_of_other_settings_is_not_replaced(run, tmp_path):
    """Before: a state file of another census (or not JSON at all) was silently overwritten
    (or a JSONDecodeError traceback)."""
    state = tmp_path / "s.json"
    assert run("census", "--atoms", "2", "--method", "enumerate", "-j", "1", "--state", state).exit_code == 0
    before = state.read_text()
    result = run("census", "--atoms", "1", "--method", "enumerate", "-j", "1", "--state", state)
    assert result.exit_code == 1 and "other settings" in said(result)
    assert state.read_text() == before
    state.write_text("[" * 100_000)
    result = run("census", "--atoms", "2", "--method", "enumerate", "-j", "1", "--state", state)
    assert result.exit_code == 1 and "not a census state file" in said(result)
    result = run("census", "--atoms", "2", "--method", "enumerate", "-j", "1", "--state", tmp_path)
    assert result.exit_code != 0 and "Traceback" not in result.output


# ---------------------------------------------------------------- docs outside the checkout


def test_docs_outside_a_checkout_refuses_instead_of_writing_here(run, tmp_path, monkeypatch):
    """Before: `docs --write` wrote ./docs/zoo.md wherever it ran and `--check` called a
    missing file stale."""
    import logicpo.numbers.zoo_doc as zoo_doc

    installed = tmp_path / "site-packages" / "logicpo" / "numbers" / "zoo_doc.py"
    monkeypatch.setattr(zoo_doc, "__file__", str(installed))
    monkeypatch.chdir(tmp_path)
    for mode in ("--write", "--check"):
        result = run("docs", mode)
        assert result.exit_code == 2, result.output
        assert "not from a checkout" in said(result) and "--docs-dir" in said(result)
    assert not (tmp_path / "docs").exists()
    assert run("docs").output.startswith("# The zoo of losses")  # printing needs no checkout


def test_docs_check_says_missing_for_a_missing_file(run, tmp_path):
    result = run("docs", "--check", "--docs-dir", tmp_path / "none")
    assert result.exit_code == 1 and "is missing" in said(result)
    data = json.loads(run("docs", "--check", "--json", "--docs-dir", tmp_path / "none").output)
    assert data["missing"] is True and data["stale"] is True
    assert not (tmp_path / "none").exists()


def test_docs_in_the_checkout_are_found_from_anywhere(run, tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    data = json.loads(run("docs", "--check", "--json").output)
    assert Path(data["file"]) == Path(__file__).resolve().parents[1] / "docs" / "zoo.md"


# ---------------------------------------------------------------- hostile preference files


GOOD = {"prompt": "2+2=", "chosen": "4", "rejected": "5"}


def _data_error(path):
    from logicpo.training.data import DataError, load_preferences

    with pytest.raises(DataError) as info:
        load_preferences(path)
    return info.value


@pytest.mark.parametrize("name, text", [
    ("deep.jsonl", "[" * 100_000 + "\n"),
    ("deep.json", "[" + "[" * 100_000),
    ("deep_row.jsonl", json.dumps(GOOD) + "\n" + '{"prompt": ' + "[" * 100_000 + "\n"),
])
def test_deeply_nested_json_is_a_located_error(run, tmp_path, name, text):
    """Before: RecursionError traceback from the JSON decoder."""
    path = tmp_path / name
    path.write_text(text)
    err = _data_error(path)
    assert "nested too deep" in err.message and err.span.file == str(path)
    result = run("data", "--check", path)
    assert result.exit_code == 1 and "nested too deep" in said(result)


def test_a_lone_surrogate_is_refused_when_loading(run, tmp_path):
    """Before: '\\ud800' loaded, then tokenising crashed with UnicodeEncodeError."""
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + '{"prompt": "a", "chosen": "ok\\ud800",'
                    ' "rejected": "b"}\n')
    err = _data_error(path)
    assert err.span.line == 2
    assert "field 'chosen' holds a lone surrogate \\ud800 (character 3)" in err.message
    assert run("data", "--check", path).exit_code == 1


def test_an_escaped_surrogate_pair_is_text(tmp_path):
    from logicpo.training.data import load_preferences

    path = tmp_path / "s.jsonl"
    path.write_text('{"prompt": "a", "chosen": "\\ud83d\\ude00", "rejected": "b"}\n')
    assert load_preferences(path)[0].chosen == "\U0001F600"


def test_a_huge_row_is_refused_before_decoding_and_not_quoted(tmp_path):
    """Before: a 10 MB invalid line was decoded, then quoted whole in the error. The row is
    12 + 10**7 + 1 characters: {"prompt": " then the x and the closing quote."""
    from logicpo.training.data import MAX_ROW_CHARS

    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + '{"prompt": "' + "x" * 10_000_000 + '"\n')
    err = _data_error(path)
    assert err.message == f"row is 10,000,013 characters long; the limit is {MAX_ROW_CHARS:,}"
    assert err.span.line == 2 and len(err.render()) < 300


def test_a_huge_row_inside_an_array_is_refused(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps([GOOD, {**GOOD, "chosen": "y" * 2_000_000}], indent=1))
    err = _data_error(path)
    assert "characters long; the limit is" in err.message and err.span.line == 7


def test_a_byte_order_mark_is_accepted(tmp_path):
    """Before: JSONL with a UTF-8 BOM failed ('Unexpected UTF-8 BOM')."""
    from logicpo.training.data import PreferenceExample, load_preferences

    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert load_preferences(path) == [PreferenceExample("2+2=", "4", "5")]


def test_line_separators_inside_strings_round_trip(tmp_path):
    """save_preferences writes U+2028 and NEL raw (ensure_ascii=False); before, loading
    split the line there (str.splitlines) and called the row invalid JSON."""
    from logicpo.training.data import PreferenceExample, load_preferences, save_preferences

    rows = [PreferenceExample("a\u2028b", "c\x85d", "e\u2029f")]
    save_preferences(rows, tmp_path / "x.jsonl")
    assert load_preferences(tmp_path / "x.jsonl") == rows


def test_line_numbers_in_a_long_array_are_counted_once(tmp_path):
    """Row 3000 of an indented array starts on line 2 + 5 * 2999 (each row is 5 lines)."""
    rows = [GOOD] * 2999 + [{**GOOD, "chosen": " "}]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(rows, indent=1))
    assert _data_error(path).span.line == 2 + 5 * 2999


def _fifo(tmp_path):
    import os

    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("make, words", [
    (lambda tmp: tmp, "is a directory, not a file"),
    (_fifo, "is a named pipe (FIFO), not a regular file"),
    (lambda tmp: __import__("pathlib").Path("/dev/zero"), "is a device, not a regular file"),
])
def test_preference_files_must_be_regular_files(tmp_path, make, words):
    """Before: a directory was 'cannot read', a FIFO blocked forever, /dev/zero was read
    until memory ran out."""
    from logicpo.files import InputError
    from logicpo.training.data import load_preferences

    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_preferences(make(tmp_path))


def test_a_symlink_loop_is_named(run, tmp_path):
    from logicpo.files import InputError
    from logicpo.training.data import load_preferences

    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="a symbolic link loop"):
        load_preferences(loop)


# ---------------------------------------------------------------- text cut before tokenising


class _RecordingBytes:
    """The byte tokenizer, recording the length of every text it is asked to encode."""

    def __init__(self):
        from logicpo.training.model import ByteTokenizer

        self.inner, self.lengths = ByteTokenizer(), []
        self.bos_id, self.eos_id = self.inner.bos_id, self.inner.eos_id

    def encode(self, text):
        self.lengths.append(len(text))
        return self.inner.encode(text)


def test_long_text_is_cut_before_tokenising_with_the_same_tokens():
    """block_size 16, prompt 'q' + 'p' * 10**6, chosen 'ab' * 5 * 10**5, rejected 'é' * 10**6.
    By hand: the prompt is longer than the context, so it keeps its last 16 // 2 = 8 tokens
    (b'p' = 112, the BOS is cut away); each response gets 16 - 8 = 8 tokens of its start:
    'abababab' and four 'é' = 0xC3 0xA9 each (no EOS). Before, every text was tokenised whole
    (10**6 characters each)."""
    from logicpo.training.data import PreferenceExample
    from logicpo.training.logprobs import encode_pairs

    tok = _RecordingBytes()
    ex = PreferenceExample("q" + "p" * 10**6, "ab" * 5 * 10**5, "é" * 10**6)
    (pair,) = encode_pairs([ex], tok, block_size=16)
    assert pair.chosen_prompt == pair.rejected_prompt == [112] * 8
    assert pair.chosen == [97, 98] * 4
    assert pair.rejected == [0xC3, 0xA9] * 4
    assert max(tok.lengths) < 100


class _FiveCharTokens:
    """A tokenizer whose tokens hold up to five characters (each word cut in fives)."""

    bos_id, eos_id = 1000, 1001

    def __init__(self):
        self.lengths = []

    def encode(self, text):
        self.lengths.append(len(text))
        out = []
        for word in text.split(" "):
            out += [sum(map(ord, word[i:i + 5])) % 997 for i in range(0, len(word), 5)] + [999]
        return out[:-1]


def test_a_tokenizer_with_long_tokens_keeps_the_tokens_of_the_whole_text():
    """Cutting at block_size characters would give too few of these tokens: the cut grows
    until enough are left, and the kept tokens equal those of the whole text."""
    from logicpo.training.data import PreferenceExample
    from logicpo.training.logprobs import encode_pairs

    words = " ".join(f"w{i:08d}" for i in range(100_000))  # each word: 2 tokens + a space
    tok = _FiveCharTokens()
    (pair,) = encode_pairs([PreferenceExample("hi", words, "no")], tok, block_size=32)
    assert max(tok.lengths) < 1000  # 48, 96, 192 characters: 192 give 32 + 16 tokens
    assert pair.chosen_prompt == [1000, *tok.encode("hi")]
    assert pair.chosen == tok.encode(words)[:30]


# ---------------------------------------------------------------- numbers given to eval / plot


SIGMOID_AT = ["eval", "sigmoid", "--pc", "-1", "--pr", "-2", "--rc", "-1", "--rr", "-1"]


@pytest.mark.parametrize("option", ["--pc", "--pr", "--rc", "--rr"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1e400"])
def test_eval_refuses_non_finite_log_probs(run, option, value):
    """Before: `eval sigmoid --pc nan ...` exited 0 with a NaN loss."""
    args = list(SIGMOID_AT)
    args[args.index(option) + 1] = value
    result = run(*args)
    assert result.exit_code == 2 and "is not a finite number" in said(result)
    assert option in said(result)


def test_eval_refuses_a_positive_log_prob(run):
    args = list(SIGMOID_AT)
    args[args.index("--pc") + 1] = "0.5"
    result = run(*args)
    assert result.exit_code == 2 and "a log-prob is at most 0, not 0.5" in said(result)


@pytest.mark.parametrize("nc, nr", [("0", "0"), ("0.5", "3"), ("3", "nan"), ("-2", "3")])
def test_eval_refuses_token_counts_below_one(run, nc, nr):
    """Before: `eval simpo --nc 0 --nr 0 --normalize length` exited 0 with a NaN loss."""
    result = run("eval", "simpo", "--pc", "-6", "--pr", "-9", "--nc", nc, "--nr", nr,
                 "--normalize", "length")
    assert result.exit_code == 2 and ("--nc" in said(result) or "--nr" in said(result))


def test_eval_accepts_the_edge_of_the_domain(run):
    """DPO at pc = 0, pr = rc = rr = -1, beta = 0.1: D = 1, loss = log(1 + e^-0.1) = 0.644397;
    SimPO (CPO's rho on per-token log-probs) at pc = -6, pr = -9 with one token each, beta 2,
    gamma 0.5: s = 2*(-6 + 9) - 0.5 = 5.5, loss = log(1 + e^-5.5) = 0.0040784."""
    data = json.loads(run("eval", "sigmoid", "--pc", "0", "--pr", "-1", "--rc", "-1", "--rr",
                          "-1", "--json").output)
    assert data["loss"] == pytest.approx(0.644397, abs=5e-7)
    data = json.loads(run("eval", "simpo", "--pc", "-6", "--pr", "-9", "--nc", "1", "--nr", "1",
                          "--beta", "2", "--gamma", "0.5", "--json").output)
    assert data["loss"] == pytest.approx(0.0040784, abs=5e-8)


def test_eval_refuses_to_print_a_number_that_is_not_finite(run):
    """ORPO at pc = pr = 0: the odds p/(1-p) of both responses are infinite, so the
    brute-force value is NaN (and so is the compiled loss, whose log1mexp(0) is -inf).
    Before: printed with exit 0."""
    result = run("eval", "ORPO", "--pc", "0", "--pr", "0", "--json")
    assert result.exit_code == 2
    assert "numbers that are not finite: loss nan, brute force nan" in said(result)


@pytest.mark.parametrize("margin", ["inf", "nan", "0", "-3"])
def test_plot_refuses_a_margin_that_is_not_finite_and_positive(run, tmp_path, margin):
    """Before: --margin inf drew NaN curves (linspace of infinities) and exited 0."""
    out = tmp_path / "p.png"
    result = run("plot", "sigmoid", "--margin", margin, "-o", out)
    assert result.exit_code == 2 and "--margin" in said(result)
    assert not out.exists()


JSONISH = st.sampled_from(['{', '}', '[', ']', ',', ':', '"', '\\', 'u', 'd', '8', '0', ' ',
                           '\n', '\r', '\ufeff', '\u2028', 'é', 'prompt', 'chosen', 'rejected',
                           '"prompt": "a"', '"chosen": "b"', '"rejected": "c"', '\\ud800',
                           'null', '1e999', 'true', '[' * 3000])


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(parts=st.lists(JSONISH, max_size=40), raw=st.binary(max_size=30))
def test_fuzz_preference_files_give_rows_or_a_logicpo_error(tmp_path_factory, parts, raw):
    """Random JSON-ish text (and random bytes): rows, or a LogicpoError that renders."""
    from logicpo.errors import LogicpoError
    from logicpo.training.data import load_preferences

    path = tmp_path_factory.mktemp("fuzz") / "f.jsonl"
    path.write_bytes("".join(parts).encode("utf-8", "surrogatepass") + raw)
    try:
        rows = load_preferences(path)
    except LogicpoError as exc:
        exc.render()
        return
    for row in rows:  # what loads is text that tokenises
        for text in (row.prompt, row.chosen, row.rejected):
            text.encode("utf-8")
