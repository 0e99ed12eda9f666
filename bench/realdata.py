"""Real data for the levels table (issue 19), beside the Python source tar: the machine's logs
and a disk image. Both depend on the machine (its /var/log, its /usr/bin), as the tar of
/usr/lib in the pipe table does; the inputs table gives their sizes.

  var-log.tar     the regular files under /var/log (rotated .gz/.xz ones decompressed), sorted,
                  as one GNU tar with fixed metadata, at most the input size.
  ext4-image      an ext4 file system (mke2fs -d, fixed UUID, hash seed and time) of the first
                  files of /usr/bin (sorted by name) filling about half of it: binaries, scripts,
                  metadata and free space, as a disk image holds them.
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from bench.common import MIB, log, one_line
from bench.inputs import Input

LOGS, IMAGE = "var-log.tar", "ext4-image"
MIN_LOG_BYTES = 64 << 10
MIN_IMAGE_BYTES = 8 << 20
FIXED_TIME = 1_700_000_000
UUID = "6b1f1c3e-7d2a-4e55-9c1b-0b1e5a2d3c4f"


def _read_log(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            return gzip.decompress(data)
        if path.suffix == ".xz":
            return lzma.decompress(data)
        return data
    except (OSError, EOFError, lzma.LZMAError, gzip.BadGzipFile):
        return None


def logs_input(limit: int, root: Path = Path("/var/log")) -> Input | None:
    buf = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            data = _read_log(path)
            if not data or buf.tell() >= limit:
                continue
            info = tarfile.TarInfo(str(path.relative_to(root)).removesuffix(".gz").removesuffix(".xz"))
            info.size, info.mode, info.mtime = len(data), 0o644, FIXED_TIME
            tar.addfile(info, io.BytesIO(data))
            count += 1
    data = buf.getvalue()[:limit]
    if len(data) < MIN_LOG_BYTES:
        log(f"{root} holds {len(data):,} bytes of logs here: no {LOGS} input")
        return None
    return Input(LOGS, data, f"{count} log files of this machine's {root} as a tar ({len(data):,} bytes)")


def disk_image_input(size: int, source: Path = Path("/usr/bin")) -> Input | None:
    mke2fs = shutil.which("mke2fs") or next((p for p in ("/sbin/mke2fs", "/usr/sbin/mke2fs") if os.path.exists(p)), None)
    if mke2fs is None or not source.is_dir():
        log(f"no mke2fs or no {source}: no {IMAGE} input")
        return None
    with tempfile.TemporaryDirectory(prefix="bbzip-image-") as tmp:
        tree, image = Path(tmp, "tree"), Path(tmp, "disk.img")
        tree.mkdir()
        filled, count = 0, 0
        for path in sorted(source.iterdir()):
            if not path.is_file() or path.is_symlink() or filled + path.stat().st_size > size // 2:
                continue
            shutil.copyfile(path, tree / path.name)
            os.utime(tree / path.name, (FIXED_TIME, FIXED_TIME))
            filled, count = filled + path.stat().st_size, count + 1
        os.utime(tree, (FIXED_TIME, FIXED_TIME))
        env = {**os.environ, "E2FSPROGS_FAKE_TIME": str(FIXED_TIME)}
        # 128-byte inodes keep no creation time or nanoseconds; debugfs then sets each change
        # time, which mke2fs copies from the copies made just now
        argv = [mke2fs, "-q", "-F", "-t", "ext4", "-I", "128", "-U", UUID, "-E", f"hash_seed={UUID},root_owner=0:0",
                "-d", str(tree), str(image), f"{size // 1024}k"]
        try:
            subprocess.run(argv, check=True, capture_output=True, env=env)
            names = ["/", "/lost+found", *(f"/{p.name}" for p in sorted(tree.iterdir()))]
            script = "".join(f"sif {n} {field} @{FIXED_TIME}\n" for n in names for field in ("ctime", "atime", "mtime"))
            subprocess.run([shutil.which("debugfs") or "/usr/sbin/debugfs", "-w", "-f", "-", str(image)],
                           input=script.encode(), check=True, capture_output=True, env=env)
        except (OSError, subprocess.CalledProcessError) as exc:
            why = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip().splitlines()
            log(f"mke2fs failed ({why[-1] if why else one_line(exc)}): no {IMAGE} input")
            return None
        data = image.read_bytes()
    return Input(IMAGE, data, f"ext4 image of {size // MIB} MiB (mke2fs -d) holding the first {count} files "
                 f"of {source} ({filled:,} bytes)")


def real_inputs(size: int) -> list[Input]:
    # ext4's own metadata leaves too little room in less than 8 MiB
    return [i for i in (logs_input(size), disk_image_input(max(size, MIN_IMAGE_BYTES))) if i is not None]
