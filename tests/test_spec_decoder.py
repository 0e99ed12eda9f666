"""The reference decoder written from docs/ alone reads the natural golden files: the
documents specify coder 0x06 completely (docs/SPEC-natural.md)."""

import ast
from pathlib import Path

import pytest

from tests.spec_decoder.natural import decode

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
MODELS = [(ROOT / "models" / f"{name}.npz").read_bytes() for name in ("natural-vae", "natural-vae-1")]
FAST = ["scan-pgm-natural-calibrated", "photo-ppm-natural-calibrated"]
SLOW = sorted({p.stem for p in GOLDEN.glob("*natural*.bbz")} - set(FAST))


def test_the_reference_decoder_imports_nothing_of_bbzip():
    for path in (ROOT / "tests" / "spec_decoder").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.split(".")[0] == "bbzip" for name in names), path


def _check(name):
    assert decode((GOLDEN / f"{name}.bbz").read_bytes(), MODELS) == (GOLDEN / f"{name}.raw").read_bytes()


@pytest.mark.parametrize("name", FAST)
def test_reference_decoder_reads_golden(name):
    _check(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_reference_decoder_reads_every_natural_golden(name):
    _check(name)
