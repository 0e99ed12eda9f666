"""Every coverage-guided fuzz target (tests/fuzz/targets.py) runs: its seeds and a few
mutants in plain mode, without atheris, so CI proves `make fuzz-cov` has working targets."""

import pytest

from tests.fuzz import coverage
from tests.fuzz.targets import TARGETS, seeds

# Each coder and parser that bbzip has, by the target that covers it.
COVERED = {"stream", "info", "varint", "rans", "order0", "lzma", "zstd", "stored", "vae", "vae-seeded", "natural",
           "natural-header", "sniff", "pnm", "tar-header", "image-blocks", "model-file", "jpeg", "png", "imagefile",
           "image-files", "png-file"}


def test_every_parser_and_coder_has_a_target():
    from bbzip.coders import registry

    assert set(TARGETS) == COVERED
    coder_targets = {"order0", "lzma", "zstd", "stored", "vae", "natural", "jpeg", "png", "imagefile"}
    assert {entry.name for entry in registry.ENTRIES} == coder_targets


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_runs_on_its_seeds_and_mutants(name):
    assert seeds(name), "a target needs seeds to start from"
    # the two smallest seeds: decoding every golden file is the mutation fuzzer's job
    assert coverage.run_plain(name, runs=5, smallest=2) == min(2, len(seeds(name))) + 5


def test_a_target_reports_what_is_not_a_bbzip_error(monkeypatch):
    def broken(data):
        raise IndexError("a finding")

    monkeypatch.setitem(TARGETS, "varint", broken)
    with pytest.raises(IndexError):
        coverage.run_plain("varint", runs=1)


def test_the_list_names_every_target(capsys):
    assert coverage.main(["--list"]) == 0
    assert set(capsys.readouterr().out.split()) == set(TARGETS)
