"""Tar headers, just enough to find member data at its 512-byte boundary.

Only the header checksum, size and type are read. A misread never costs exactness (every
byte is coded losslessly whichever coder gets it), only ratio, so anything unexpected ends
the scan and the rest of the stream is ordinary data.
"""

from __future__ import annotations

from typing import NamedTuple

RECORD = 512
# Types whose size field counts data that follows the header: regular files ("0", NUL and
# "7", contiguous) and the metadata members (pax "x"/"g", GNU long names "L"/"K"), whose
# data is ordinary bytes to us. Links, directories and devices carry none, whatever their
# size field says (as Python's tarfile reads them); GNU sparse "S" data is not the file.
_REGULAR = (b"0", b"\x00", b"7")
_WITH_DATA = (*_REGULAR, b"x", b"g", b"L", b"K", b"S")
_HIGH = bytes(range(0x80, 0x100))


class Member(NamedTuple):
    data_size: int  # bytes of data after the header (0 when none follows)
    regular: bool  # the data is a file's contents, so it may be an image

    @property
    def padded(self) -> int:
        return -(-self.data_size // RECORD) * RECORD


def is_archive_start(block: bytes) -> bool:
    """Does ``block`` open a ustar/GNU/pax archive? The magic guards the first header, where
    a lucky checksum in non-tar data would otherwise start a scan."""
    return len(block) >= RECORD and block[257:262] == b"ustar" and parse_header(block) is not None


def parse_header(block: bytes) -> Member | None:
    """The member a 512-byte header describes, or None (bad checksum, end-of-archive zeros)."""
    if len(block) < RECORD or not any(block[:RECORD]):
        return None
    stored = _number(block[148:156])
    if stored is None:
        return None
    raw = bytearray(block[:RECORD])
    raw[148:156] = b" " * 8  # the checksum is summed as if its own field were spaces
    unsigned = sum(raw)
    if stored != unsigned:
        high = len(raw) - len(raw.translate(None, _HIGH))  # bytes >= 0x80
        if stored != unsigned - 256 * high:  # old tars summed signed chars
            return None
    typeflag = block[156:157]
    size = _number(block[124:136])
    if size is None or size < 0:
        return None
    return Member(size if typeflag in _WITH_DATA else 0, typeflag in _REGULAR)


def _number(field: bytes) -> int | None:
    """An octal field (NUL/space padded), or GNU base-256 when the top bit is set."""
    if field[:1] and field[0] & 0x80:
        return None if field[0] & 0x40 else int.from_bytes(field[1:], "big")  # no negatives
    digits = field.strip(b" \x00")
    if not digits:
        return 0
    try:
        return int(digits, 8)  # lenient (signs, underscores): a misread costs ratio, never bytes
    except ValueError:
        return None
