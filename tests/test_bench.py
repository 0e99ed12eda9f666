"""The bench's own logic (no timing): floors judged on rows, peak memory of a process tree."""

import re
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
    for name, rows, section in (("a", unmeasured + other, "levels"), ("b", passed, "mnist")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "readme.md").write_text(f"run {name} tables\n\n### Floors\n\nlegend\n\n{head}{rows}")
        (tmp_path / name / "bench.json").write_text(f'{{"meta": {{"sections": ["{section}"]}}}}')
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


def test_sections_are_named_positionally_or_with_only_and_each_part_keeps_its_own_folder():
    from pathlib import Path

    from bench.main import SECTIONS, chosen_sections, default_out, parse_args

    assert chosen_sections(parse_args(["photos", "natural"])) == {"photos", "natural"}
    assert chosen_sections(parse_args(["--only", "levels,formats"])) == {"levels", "formats"}
    assert chosen_sections(parse_args([])) == set(SECTIONS)
    assert default_out({"natural", "photos"}) == Path("bench-results/natural-photos")
    assert default_out(set(SECTIONS)) == Path("bench-results")


def test_photo_ladder_uses_own_sizes_then_downscales_then_mosaics_of_at_least_the_target():
    from pathlib import Path

    from bench.photos import Photo, ladder

    photos = [Photo(f"p{i}", Path(f"p{i}.jpg"), (2560, 1600)) for i in range(8)]
    photos.append(Photo("big", Path("big.jpg"), (5120, 2880)))
    plans = ladder(photos, (0.3, 4, 15, 20))
    small, native, big, mosaic = plans
    assert small.scale < 1 and len(small.parts) == 1
    assert native.scale == 1 and native.parts[0].size == (2560, 1600)
    assert big.parts[0].name == "big"
    assert len(mosaic.parts) == 6 and mosaic.columns == 2
    assert 20e6 <= mosaic.height * 2 * 2560 < 20.2e6  # cropped to the target, not below it
    first_uses = [p.name for plan in plans[:3] for p in plan.parts]
    assert len(first_uses) == len(set(first_uses))  # distinct photos while unused ones remain


def test_issue_16_floors_per_photo_and_goals_on_the_total():
    from bench.photos import BBZIP, NUMPY, TOTAL, floors

    rows = floors({"inputs": [{"name": "0.3 MP 693x433"}, {"name": "20.1 MP 5120x3920"}]})
    same_bytes = [f for f in rows if f.metric == "digest"]
    assert [(f.input, f.tool, f.limit.tool) for f in same_bytes] == [("0.3 MP 693x433", NUMPY, BBZIP)]
    per_photo = [f for f in rows if f.input != TOTAL and f.metric != "digest"]
    assert len(per_photo) == 6 and all(f.kind == "floor" and f.tool == BBZIP for f in per_photo)
    assert {(f.metric, f.limit) for f in per_photo} == {
        ("compress_s_per_mp", 1.0), ("decompress_s_per_mp", 0.5), ("peak_mb", 600)}
    assert all(f.kind == "goal" for f in rows if f.input == TOTAL)
    huge = floors({"inputs": [{"name": "50.0 MP 5120x9776", "memory_only": True}]})
    assert [(f.metric, f.limit) for f in huge if f.input != TOTAL and f.tool == BBZIP] == [("peak_mb", 600)]


def test_format_rows_become_floors_against_the_row_they_compare_with():
    from bench.files import BBZIP, PNG_FILES, TODAY, _pair, floors, markdown

    results = Results(1, ())
    _pair(results, "2 JPEG photos", "the JPEG files", 1000, 850)
    _pair(results, "2 photos as Pillow PNG", PNG_FILES, 1000, 990)
    results.add(Row("2 photos as Pillow PNG", TODAY, input_bytes=1000, size=1000, roundtrip="ok"))
    info = {"rows": [("2 JPEG photos", "the JPEG files", 0.88, False), ("2 photos as Pillow PNG", TODAY, 1.0, False),
                     ("2 photos as Pillow PNG", PNG_FILES, 0.85, True)]}
    checks = [check(f, results, {}) for f in floors(info)]
    assert [(c.status, c.floor.kind) for c in checks] == [("PASS", "floor"), ("PASS", "floor"), ("missed", "goal")]
    assert all(c.floor.tool == BBZIP for c in checks)
    text = re.sub(r" +", " ", markdown(results, info))
    assert "| 2 JPEG photos | the JPEG files | 1,000 | 850 | 0.8500 | floor 0.88 |" in text


def test_pillow_png_today_is_the_same_bytes_without_the_signature():
    from bench.png_regen import not_png

    data = b"\x89PNG\r\n\x1a\n" + bytes(20)
    assert not_png(data)[1:] == data[1:] and not_png(data)[:8] != data[:8]


def test_publish_refuses_a_section_measured_by_two_runs(tmp_path):
    import json

    from bench.publish import overlaps

    for name, meta in (("a", {"sections": ["photos", "natural"]}), ("b", {"sections": ["natural"]}),
                       ("c", {"mode": "full, only levels"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "bench.json").write_text(json.dumps({"meta": meta}))
    assert overlaps([tmp_path / "a", tmp_path / "c"]) == []
    assert overlaps([tmp_path / "a", tmp_path / "b"]) == [f"natural: {tmp_path / 'a'}, {tmp_path / 'b'}"]


def test_issue_17_floors_every_photo_against_webp_at_its_best_and_the_total_against_jpeg_xl_e7():
    from bench.floors import WEBP, floor_table
    from bench.inputs import PHOTO_NAMES
    from bench.natural import TOTAL_INPUT

    seventeen = [f for f in floor_table(False) if f.issue == 17 and f.kind == "floor"]
    assert {f.input for f in seventeen if f.limit.tool == WEBP} == set(PHOTO_NAMES)
    assert any(f.input == TOTAL_INPUT and f.limit.tool == "JPEG XL e7" for f in seventeen)


def test_real_logs_are_a_tar_of_the_folder_with_rotated_logs_decompressed(tmp_path):
    import gzip
    import io
    import tarfile

    from bench.realdata import logs_input

    (tmp_path / "syslog").write_bytes(b"Dec  2 12:00:00 host cron[1]: job\n" * 3000)
    (tmp_path / "syslog.1.gz").write_bytes(gzip.compress(b"Dec  1 12:00:00 host sshd[2]: hello\n" * 2000))
    inp = logs_input(1 << 20, tmp_path)
    with tarfile.open(fileobj=io.BytesIO(inp.data)) as tar:
        assert tar.getnames() == ["syslog", "syslog.1"]
        assert tar.extractfile("syslog.1").read().startswith(b"Dec  1")
    assert logs_input(1 << 20, tmp_path / "missing") is None


def test_the_disk_image_is_the_same_bytes_every_run():
    import shutil

    from bench.realdata import MIN_IMAGE_BYTES, disk_image_input

    if not (shutil.which("mke2fs") or shutil.which("/usr/sbin/mke2fs")) or not shutil.which("debugfs", path="/usr/sbin:/sbin:/usr/bin"):
        pytest.skip("no e2fsprogs")
    first, second = disk_image_input(MIN_IMAGE_BYTES), disk_image_input(MIN_IMAGE_BYTES)
    assert first is not None and len(first.data) == MIN_IMAGE_BYTES and first.data == second.data


def test_a_mosaic_of_photos_of_different_sizes_crops_them_to_one_tile():
    from pathlib import Path

    from bench.photos import Photo, ladder

    photos = [Photo(f"p{i}", Path(f"p{i}.jpg"), (3000 + 100 * i, 2000 + 50 * i)) for i in range(4)]
    (mosaic,) = ladder(photos, (20,))
    assert mosaic.tile == (3200, 2100) and {p.name for p in mosaic.parts} == {"p2", "p3"}
    assert mosaic.columns == 2 and len(mosaic.parts) == 4 and mosaic.height * 2 * 3200 >= 20e6


def test_publish_puts_runs_in_the_order_of_the_sections(tmp_path):
    import json

    from bench.publish import first_section

    for name, sections in (("x", ["formats"]), ("y", ["natural", "photos"]), ("z", ["levels"])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "bench.json").write_text(json.dumps({"meta": {"sections": sections}}))
    runs = sorted((tmp_path / n for n in "xyz"), key=first_section)
    assert [r.name for r in runs] == ["z", "y", "x"]


def test_a_short_process_memory_is_sampled_before_it_ends(monkeypatch):
    import bench.photo_procs as photos

    samples = []
    monkeypatch.setattr(photos, "tree_pss_kib", lambda pid: samples.append(pid) or 2048)
    result = photos.run_measured(["sleep", "0.3"])
    assert result["rc"] == 0 and result["peak_mb"] == 2.0
    assert len(samples) >= 4  # every 0.25 s from the start: one sample, none for a 0.2 s decode
    monkeypatch.setattr(photos, "tree_pss_kib", lambda pid: 0)  # ended before /proc was read
    assert photos.run_measured(["true"])["peak_mb"] is None


def test_the_full_ladder_keeps_the_small_one_four_eight_and_eighteen_plus_megapixel_steps():
    from pathlib import Path

    from bench.measure import Row
    from bench.photos import HUGE_MP, QUICK_TARGETS_MP, TARGETS_MP, Photo, ladder, total_row

    # Debian's photo wallpapers: ten of 2560x1600, one of 5120x2880
    photos = [Photo(f"p{i}", Path(f"p{i}.jpg"), (2560, 1600)) for i in range(10)]
    photos.append(Photo("big", Path("big.jpg"), (5120, 2880)))
    plans = ladder(photos, TARGETS_MP)
    assert QUICK_TARGETS_MP == TARGETS_MP[:2] and TARGETS_MP[0] == 0.3
    for target in (1, 4, 8):
        assert target in TARGETS_MP
    assert sum(TARGETS_MP) <= 36  # about 100M subpixels and bbzip at 50 MP: 20 minutes on 2 cores (docstring)
    assert plans[TARGETS_MP.index(8)].parts[0].name == "big"  # a real photo, box-downscaled
    largest = plans[-1]
    (huge,) = ladder(photos, (HUGE_MP,))
    assert HUGE_MP >= 50 and huge.height * 2 * 2560 >= HUGE_MP * 1e6
    assert len(largest.parts) == 6 and largest.height * 2 * 2560 >= 18e6
    # a codec whose short decode was never sampled: the total keeps the peaks that were
    rows = [Row(str(t), "x", input_bytes=1, pixels=3, size=1, compress_s=1, decompress_s=1, roundtrip="ok",
                compress_peak_mb=p, decompress_peak_mb=None) for t, p in ((1, 20.0), (2, 30.0))]
    total = total_row(rows, "x")
    assert (total.compress_peak_mb, total.decompress_peak_mb) == (30.0, None)


def test_the_photos_table_shows_times_per_million_peaks_rates_and_the_numpy_and_cold_rows():
    from bench.photos import BBZIP, COLD, NUMPY, TOTAL, markdown

    results = Results(1, ())
    name = "0.3 MP 693x433"
    for tool in (BBZIP, COLD, NUMPY):
        results.add(Row(name, tool, input_bytes=900_000, pixels=900_000, size=450_000, compress_s=0.9,
                        decompress_s=0.45, compress_peak_mb=250, decompress_peak_mb=None, roundtrip="ok"))
    results.add(Row(TOTAL, BBZIP, input_bytes=900_000, pixels=900_000, roundtrip="error", note="an input failed"))
    text = markdown(results, {"inputs": [{"name": name, "source": "a photo"}], "folder": "/photos",
                              "tools": [BBZIP, COLD, NUMPY], "minutes": 0.01})
    header = next(line for line in text.splitlines() if line.startswith("| input"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells[:9] == ["input", "codec", "bits/subpixel", "comp s", "comp s/M", "decomp s", "decomp s/M",
                         "comp peak MB", "decomp peak MB"]
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): line for line in text.splitlines()}
    assert "| 4.000 " in rows[(name, BBZIP)] and "| 1.00 " in rows[(name, BBZIP)] and "| 0.50 " in rows[(name, BBZIP)]
    assert (name, COLD) in rows and (name, NUMPY) in rows
    assert "error: an input failed" in rows[(TOTAL, BBZIP)]
    assert "PSS" in text  # the legend says which memory
    assert "the section ran 0.0 minutes" in text


def test_make_model_natural_runs_the_whole_chain_from_scratch(tmp_path):
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("make") is None:
        pytest.skip("no make")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(["make", "-n", "-C", str(root), "model-natural", f"NATURAL_BUILD={tmp_path}/b",
                          f"NATURAL_MODELS={tmp_path}/m"], capture_output=True, text=True, check=True).stdout
    steps = [line for line in out.replace("\\\n", " ").splitlines() if "bbzip." in line]
    trains = [s for s in steps if "natural_train" in s]
    freezes = [s for s in steps if "natural.freeze" in s]
    assert [re.search(r"--minutes (\d+)", s).group(1) for s in trains] == ["39", "18", "52", "90", "68"]
    assert "--init" not in trains[0]  # from scratch
    assert all(f"--init {tmp_path}/b/run{i}.npz" in trains[i] for i in (1, 2, 3))
    assert f"--init {tmp_path}/b/natural-vae.npz" in trains[4] and "photos-train" in trains[4]
    assert [re.search(r"--name (\S+)", s).group(1) for s in freezes] == ["natural-vae", "natural-vae-2"]
    assert f"--out-dir {tmp_path}/b" in freezes[0]  # never over the shipped models/natural-vae.npz
    assert steps.index(freezes[0]) == 4 and steps[-1] == freezes[1]


def test_publish_replaces_the_runs_of_the_sections_given_and_keeps_the_others():
    from bench.publish import README_PART, merge, published_parts

    def part(command: str, sections: str) -> str:
        return f"`python -m bench {command}`, 2026-12-02, 2 cores, mode full, sections {sections}. Noisy.\n\n### {command} table"

    published = "\n\n".join(["intro", part("levels", "levels"), part("photos", "photos"), part("formats", "formats")])
    parts = published_parts(published, README_PART, README_PART)
    assert [sections for sections, _ in parts] == [{"levels"}, {"photos"}, {"formats"}]
    kept = merge(parts, {"photos"})
    assert [text.splitlines()[-1] for _, text in kept] == ["### levels table", "### formats table"]
    with pytest.raises(SystemExit, match="measured these sections and others too"):
        merge(published_parts(part("natural photos", "natural,photos"), README_PART, README_PART), {"photos"})


def test_publish_puts_a_new_run_between_the_kept_ones_in_the_order_of_sections(tmp_path):
    import json

    from bench.publish import results_section

    run = tmp_path / "photos"
    run.mkdir()
    (run / "bench.json").write_text(json.dumps({"meta": {"sections": ["photos"]}}))
    (run / "readme.md").write_text("`python -m bench photos`, sections photos.\n\n### Photos at full size\n")
    text = results_section([run], [({"formats"}, "formats part"), ({"levels"}, "levels part")])
    assert text.index("levels part") < text.index("### Photos at full size") < text.index("formats part")
