"""`pip install bbzip` without torch compresses and decompresses (offline).

A wheel is built from this checkout and installed by pip into a fresh venv that has no
torch; its core dependencies are linked in from the test environment (no network here),
torch left out. The venv must then round-trip data, decode a photo and digits with the
shipped models, and torch must stay unimportable.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
CORE = ("numpy", "click", "tqdm", "rich", "platformdirs", "zstandard", "markdown_it", "mdurl",
        "pygments")


def _run(*args, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(args, capture_output=True, timeout=600, check=False, **kw)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r


def test_core_install_without_torch_round_trips(tmp_path):
    # Built from a copy: setuptools builds in the source tree and would leave build/ there.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "__pycache__", "bench-results"))
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(tmp_path / "wheels"), str(source))
    [wheel] = (tmp_path / "wheels").glob("bbzip-*.whl")
    venv.create(tmp_path / "v", with_pip=False)
    python = tmp_path / "v" / "bin" / "python"
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .stdout.decode().strip())
    _run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site),
         str(wheel))
    for name in CORE:  # the test environment's copies, and nothing else (no torch)
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.submodule_search_locations, name
        source = Path(next(iter(spec.submodule_search_locations)))
        for entry in source.parent.iterdir():
            if entry.name == name or entry.name.startswith((f"{name}.", f"{name}-", f"{name.replace('_', '-')}-")):
                os.symlink(entry, site / entry.name)
    probe = "import importlib.metadata as m; print('\\n'.join(m.requires('bbzip')))"
    required = _run(str(python), "-c", probe).stdout.decode().splitlines()
    assert all("extra ==" in r for r in required if r.startswith("torch")), required
    (tmp_path / "t").write_bytes(b"bits back " * 5000 + bytes(range(256)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    _run(str(python), "-m", "bbzip", "-k", "t", cwd=tmp_path, env=env)
    r = _run(str(python), "-m", "bbzip", "-dc", "t.bbz", cwd=tmp_path, env=env)
    assert r.stdout == (tmp_path / "t").read_bytes()
    # The model coders too, on files made elsewhere: a photo and digits decode with the
    # shipped models and numpy alone (no torch, no numba in this venv).
    for name in ("photo-ppm-natural-calibrated", "digits-idx-vae"):
        r = _run(str(python), "-m", "bbzip", "-dc", str(GOLDEN / f"{name}.bbz"), cwd=tmp_path, env=env)
        assert r.stdout == (GOLDEN / f"{name}.raw").read_bytes(), name
    probe = "import importlib.util as u, bbzip.api; print(u.find_spec('torch') is None)"
    assert _run(str(python), "-c", probe, env=env).stdout.strip() == b"True"
