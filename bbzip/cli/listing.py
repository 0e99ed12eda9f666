"""What `bbzip info` and `bbzip -l` print about .bbz files.

    -l            gzip's layout (compressed, uncompressed, ratio, name, "(totals)"): scripts
                  that parse `gzip -l` work unchanged
    info          a rich table: streams, blocks, coders, models, sizes, ratio, bits/byte/pixel
    info --json   the full detail for scripts, block by block
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from bbzip.cli.output import console, saving

_WIDTH = 19  # gzip's column width for a 64-bit off_t


def gzip_list(rows, *, totals: bool, header: bool = True) -> None:
    """rows: (uncompressed name, StreamInfo). `totals` as gzip: only when several files were named."""
    out = sys.stdout
    if header and rows:
        out.write(f"{'compressed':>{_WIDTH}} {'uncompressed':>{_WIDTH}}  ratio uncompressed_name\n")
    for name, info in rows:
        out.write(_gzip_row(info.compressed_size, info.raw_size, name))
    if totals and rows:
        packed = sum(info.compressed_size for _, info in rows)
        raw = sum(info.raw_size for _, info in rows)
        out.write(_gzip_row(packed, raw, "(totals)"))
    out.flush()


def _gzip_row(packed: int, raw: int, name: str) -> str:
    return f"{packed:>{_WIDTH}} {raw:>{_WIDTH}} {saving(raw, packed):5.1f}% {name}\n"


def _summary(streams: int, blocks, raw: int, packed: int) -> dict:
    image = [b for b in blocks if b.pixels]
    pixels = sum(b.pixels for b in image)
    return {
        "streams": streams,
        "blocks": len(blocks),
        "coders": dict(Counter(b.coder for b in blocks).most_common()),
        "models": sorted({b.model_id for b in blocks if b.model_id}),
        "raw_size": raw,
        "compressed_size": packed,
        "ratio": raw / packed if packed else None,
        "bits_per_byte": 8 * packed / raw if raw else None,
        "bits_per_pixel": 8 * sum(b.payload_size for b in image) / pixels if pixels else None,
    }


def _totals(rows) -> dict:
    return _summary(sum(i.streams for _, i in rows), [b for _, i in rows for b in i.blocks],
                    sum(i.raw_size for _, i in rows), sum(i.compressed_size for _, i in rows))


def info_json(rows) -> None:
    """One JSON document: every file with its summary and its blocks, then the totals."""
    files = []
    for name, info in rows:
        entry = {"file": name,
                 **_summary(info.streams, info.blocks, info.raw_size, info.compressed_size)}
        entry["block_list"] = [
            {"coder": b.coder, "model_id": b.model_id or None, "raw_size": b.raw_size,
             "payload_size": b.payload_size, "pixels": b.pixels,
             "bits_per_pixel": 8 * b.payload_size / b.pixels if b.pixels else None}
            for b in info.blocks
        ]
        files.append(entry)
    json.dump({"files": files, "totals": _totals(rows)}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()


def info_table(rows) -> None:
    from rich import box
    from rich.table import Table

    with_pixels = any(b.pixels for _, info in rows for b in info.blocks)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("File", overflow="fold")
    for title in ("Streams", "Blocks"):
        table.add_column(title, justify="right")
    table.add_column("Coders", overflow="fold")
    table.add_column("Models", overflow="fold")
    for title in ("Raw", "Compressed", "Ratio", "Bits/byte") + (("Bits/pixel",) * with_pixels):
        table.add_column(title, justify="right")

    def cells(summary: dict) -> list[str]:
        def number(key: str) -> str:
            return "-" if summary[key] is None else f"{summary[key]:.3f}"

        row = [
            str(summary["streams"]),
            str(summary["blocks"]),
            ", ".join(f"{c} x{n}" for c, n in summary["coders"].items()) or "-",
            ", ".join(m[:8] for m in summary["models"]) or "-",
            str(summary["raw_size"]),
            str(summary["compressed_size"]),
            number("ratio"),
            number("bits_per_byte"),
        ]
        return row + [number("bits_per_pixel")] * with_pixels

    for name, info in rows:
        table.add_row(name, *cells(_summary(info.streams, info.blocks, info.raw_size,
                                            info.compressed_size)))
    if len(rows) > 1:
        table.add_section()
        table.add_row("total", *cells(_totals(rows)))
    console(sys.stdout).print(table)
