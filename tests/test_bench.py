"""The bench's own logic (no timing): floors judged on rows, peak memory of a process tree."""

import sys

import numpy as np
import pytest

from bench.floors import Floor, Ref, check
from bench.inputs import Input, parse_pnm
from bench.measure import Results, Row
from bench.rss import run_with_peak


def results_of(*rows: Row) -> Results:
    results = Results(1, ())
    for row in rows:
        results.add(row)
    return results


def row(tool: str, size: int | None, roundtrip: str = "ok", **kw) -> Row:
    return Row("in", tool, input_bytes=1000, size=size, roundtrip=roundtrip, **kw)


def test_floor_against_another_row_of_the_run():
    results = results_of(row("bbzip", 80), row("gzip", 100))
    passing = check(Floor(10, "in", "bbzip", "size", "<=", Ref("gzip", "size", 0.85)), results, {})
    failing = check(Floor(10, "in", "bbzip", "size", "<=", Ref("gzip", "size", 0.75)), results, {})
    assert (passing.status, passing.value, passing.limit) == ("PASS", 80, 85.0)
    assert failing.status == "FAIL"


def test_floor_statuses_for_aims_missing_rows_and_failed_round_trips():
    results = results_of(row("bbzip", 80), row("broken", 50, roundtrip="FAIL"))
    goal = check(Floor(9, "in", "bbzip", "size", "<=", 70, "goal"), results, {})
    missing = check(Floor(9, "in", "nobody", "size", "<=", 70), results, {})
    broken = check(Floor(9, "in", "broken", "size", "<=", 70), results, {})
    full_only = check(Floor(9, "in", "bbzip", "size", "<=", 90, full=True), results, {"in": False})
    assert goal.status == "missed"
    assert missing.status == "n/a" and "not measured" in missing.detail
    assert broken.status == "FAIL"  # a smaller output that does not round-trip passes nothing
    assert full_only.status == "n/a"


def test_thread_counts_must_give_the_same_bytes():
    results = results_of(row("-T1", 80, digest="ab"), row("-T2", 80, digest="cd"))
    same = check(Floor(10, "in", "-T2", "digest", "==", Ref("-T1", "digest")), results, {})
    assert (same.status, same.value) == ("FAIL", "differs")


def test_peak_memory_adds_up_the_whole_process_tree():
    hold = "x = bytearray(60 << 20); import time; time.sleep(1.5)"
    parent = f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', {hold!r}]); {hold}; p.wait()"
    status, peak = run_with_peak([sys.executable, "-c", parent])
    assert status == 0
    assert peak is not None and peak >= 110  # two processes of 60 MB each, at once


def test_pnm_parser_reads_comments_and_channels():
    gray = parse_pnm(b"P5\n# a comment\n3 2\n255\n" + bytes(range(6)))
    rgb = parse_pnm(b"P6 1 1 255\n" + b"\x01\x02\x03")
    assert gray.shape == (2, 3, 1) and gray[1, 2, 0] == 5
    assert rgb.tolist() == [[[1, 2, 3]]]


def test_gray_photo_through_webp_comes_back_as_its_file():
    pytest.importorskip("imagecodecs")
    from bench.natural import image_codecs

    data = b"P5\n4 3\n255\n" + bytes(np.arange(12, dtype=np.uint8) * 20)
    inp = Input("tiny", data, "", pixels=12, image=parse_pnm(data))
    codecs, _ = image_codecs()
    for codec in codecs:
        assert codec.output(codec.decompress(codec.compress(inp))) == data, codec.label


def test_published_floors_are_one_table_per_run_and_never_both_unmeasured_and_measured(tmp_path):
    from bench.publish import results_section

    head = "| issue | kind | input | row | metric | value | bar | limit | status | detail |\n|---|---|---|---|---|---|---|---|---|---|\n"
    unmeasured = "| 10 | floor | mnist | bbzip -6 | seconds | – | <= xz -9e | – | n/a | xz -9e: not measured |\n"
    passed = "| 10 | floor | mnist | bbzip -6 | seconds | 5.6 | <= xz -9e | 8.9 | PASS |  |\n"
    other = "| 1 | floor | empty | bbzip -6 | size | 10 | <= 32 | 32 | PASS |  |\n"
    for name, rows in (("a", unmeasured + other), ("b", passed)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "readme.md").write_text(f"run {name} tables\n\n### Floors\n\nlegend\n\n{head}{rows}")
    text = results_section([tmp_path / "a", tmp_path / "b"])
    assert text.count("### Floors of this run") == 2
    assert "xz -9e: not measured" not in text and "| PASS |  |" in text and "| empty |" in text
    assert text.index("run a tables") < text.index("| empty |") < text.index("run b tables") < text.index("| 5.6 |")


def test_the_mnist_time_bar_says_what_it_compares_and_shows_xz_decompress_time():
    from bench.floors import check, floor_table
    from bench.measure import Results, Row

    floor = next(f for f in floor_table(False) if f.metric == "decompress_s" and f.beside)
    results = Results(1, ())
    results.add(Row(floor.input, floor.tool, decompress_s=5.6, roundtrip="ok"))
    results.add(Row(floor.input, "xz -9e", compress_s=8.9, decompress_s=0.31, roundtrip="ok"))
    result = check(floor, results, {})
    assert result.status == "PASS" and result.limit == 8.9
    assert "compress time" in result.detail and "xz -9e decompress_s: 0.31" in result.detail
