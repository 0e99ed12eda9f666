"""The .bbz container: framing, lengths and checksums; nothing about how blocks are coded.

Specified in docs/FORMAT.md. Each layout is defined once here and used both ways.
Every length read from a file is checked against a limit before anything is allocated.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, NamedTuple

from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.constants import MODEL_ID_BYTES
from bbzip.errors import CorruptError, FormatError

MAGIC = b"\xb8BZ"
VERSION = 1
STREAM_HEADER = MAGIC + bytes([VERSION << 4])
END_MARKER = 0x00
BLOCK_FLAG_MODEL = 0x01
# Limits a reader enforces before allocating; writers stay far below them.
MAX_BLOCK_RAW = 64 << 20
MAX_BLOCK_PAYLOAD = MAX_BLOCK_RAW + (MAX_BLOCK_RAW >> 3) + 65536
MAX_STREAM_RAW = (1 << 63) - 1
_CRC = struct.Struct("<I")


class OtherData(Exception):
    """Where a stream should start, the input holds something else: `zeros` zero bytes and
    then `head` of it were read, the rest is still unread in the source (so `bbzip -dcf` can
    copy it through as it is)."""

    def __init__(self, message: str, zeros: int = 0, head: bytes = b"") -> None:
        super().__init__(message)
        self.zeros, self.head = zeros, head


class NotBBZ(OtherData, FormatError):
    """The input does not start with a .bbz stream."""


class TrailingGarbage(OtherData, CorruptError):
    """Data after the last stream that is neither a stream nor zero padding."""


class BlockHeader(NamedTuple):
    coder_id: int
    model_id: bytes
    raw_size: int
    payload_size: int
    crc: int


class StreamEnd(NamedTuple):
    raw_size: int
    crc: int


def encode_block_header(header: BlockHeader) -> bytes:
    if not 1 <= header.coder_id <= 0xFF:
        raise ValueError("coder IDs are 1..255")
    if header.model_id and len(header.model_id) != MODEL_ID_BYTES:
        raise ValueError(f"model IDs are {MODEL_ID_BYTES} bytes")
    flags = BLOCK_FLAG_MODEL if header.model_id else 0
    return (bytes([header.coder_id, flags]) + header.model_id + encode_varint(header.raw_size)
            + encode_varint(header.payload_size) + _CRC.pack(header.crc))


def encode_stream_end(end: StreamEnd) -> bytes:
    return bytes([END_MARKER]) + encode_varint(end.raw_size) + _CRC.pack(end.crc)


_FIRST_READ = 64 << 10


class _Source:
    """Exact reads from a binary stream, counting bytes consumed."""

    def __init__(self, src: BinaryIO):
        self.src = src
        self.consumed = 0

    def read(self, size: int, what: str) -> bytes:
        # A buffered reader allocates whatever it is asked for before reading, so a length
        # from the file is read in slices that double: memory follows the data really
        # there, not the length claimed (at most twice it).
        parts = []
        got, step = 0, _FIRST_READ
        while got < size:
            part = self.src.read(min(step, size - got))
            if not part:
                break
            parts.append(part)
            got += len(part)
            step *= 2
        if got < size:
            raise CorruptError(f"unexpected end of data in {what}")
        self.consumed += size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_varint(self, what: str, limit: int) -> int:
        raw = bytearray()
        while True:
            byte = self.read(1, what)[0]
            raw.append(byte)
            if not byte & 0x80 or len(raw) >= 10:
                return decode_varint(raw, 0, limit)[0]

    def skip_zeros(self) -> tuple[int, bytes]:
        """Read zero bytes up to the first other byte: (how many, the bytes read after them)."""
        zeros = 0
        while chunk := self.src.read(1 << 16):
            rest = chunk.lstrip(b"\0")
            zeros += len(chunk) - len(rest)
            if rest:
                self.consumed += len(chunk) - len(rest)
                return zeros, rest
            self.consumed += len(chunk)
        return zeros, b""


class StreamReader:
    """Walks one or more concatenated .bbz streams: headers, blocks, end markers."""

    def __init__(self, src: BinaryIO):
        if not hasattr(src, "peek"):
            import io

            src = io.BufferedReader(src if isinstance(src, io.RawIOBase) else _Raw(src))
        self._source = _Source(src)
        self.streams = 0

    @property
    def consumed(self) -> int:
        return self._source.consumed

    def next_stream(self) -> bool:
        """Read a stream header; False at a clean end of input after at least one stream.

        Zero bytes after the last stream (tape and block-device padding) are a clean end
        too. Input that is not a stream raises OtherData having read none of it but zeros."""
        peeked = self._source.src.peek(len(STREAM_HEADER))[: len(STREAM_HEADER)]
        if not peeked:
            if self.streams:
                return False
            raise NotBBZ("empty input, not in .bbz format")
        if self.streams and peeked[0] == 0:
            zeros, head = self._source.skip_zeros()
            if not head:
                return False
            raise TrailingGarbage("trailing garbage after the .bbz stream", zeros, head)
        if not MAGIC.startswith(peeked[:3]):  # (a short peek that matches so far reads on)
            if self.streams:
                raise TrailingGarbage("trailing garbage after the .bbz stream")
            raise NotBBZ("not in .bbz format")
        header = self._source.src.read(len(STREAM_HEADER)) or b""
        self._source.consumed += len(header)
        if header[:3] != MAGIC:
            if self.streams:
                raise CorruptError("trailing garbage after the .bbz stream")
            raise FormatError("not in .bbz format")
        if len(header) < len(STREAM_HEADER):
            raise CorruptError("unexpected end of data in the stream header")
        version, reserved = header[3] >> 4, header[3] & 0x0F
        if version != VERSION:
            raise FormatError(f"format version {version} is not supported (this bbzip reads {VERSION})")
        if reserved:
            raise FormatError("reserved header bits are set (made by a newer bbzip?)")
        self.streams += 1
        return True

    def next_block(self) -> BlockHeader | StreamEnd:
        src = self._source
        coder_id = src.read(1, "a block header")[0]
        if coder_id == END_MARKER:
            raw_size = src.read_varint("the end marker", MAX_STREAM_RAW)
            return StreamEnd(raw_size, _CRC.unpack(src.read(4, "the end marker"))[0])
        flags = src.read(1, "a block header")[0]
        if flags & ~BLOCK_FLAG_MODEL:
            raise FormatError("reserved block flags are set (made by a newer bbzip?)")
        model_id = src.read(MODEL_ID_BYTES, "a block header") if flags & BLOCK_FLAG_MODEL else b""
        raw_size = src.read_varint("a block header", MAX_BLOCK_RAW)
        if raw_size == 0:
            raise CorruptError("empty block")
        payload_size = src.read_varint("a block header", MAX_BLOCK_PAYLOAD)
        crc = _CRC.unpack(src.read(4, "a block header"))[0]
        return BlockHeader(coder_id, model_id, raw_size, payload_size, crc)

    def read_payload(self, header: BlockHeader) -> bytes:
        return self._source.read(header.payload_size, "a block payload")

    def skip_payload(self, header: BlockHeader) -> None:
        left = header.payload_size
        while left:
            left -= len(self._source.read(min(left, 1 << 20), "a block payload"))


class _Raw:
    """The raw-stream face io.BufferedReader needs, over any object with read() (BytesIO,
    a socket file, a test double), so that every source gets BufferedReader's peek()."""

    closed = False

    def __init__(self, src: BinaryIO):
        self._src = src

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._src.read(len(buffer)) or b""
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        pass  # the caller owns the source


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B) (zlib's crc32_combine, which Python does
    not expose): blocks are checksummed on worker threads, the stream in order from those.

    Appending len(B) zero bytes to A is linear over GF(2): a 32x32 matrix per power of two
    of the length, each the square of the one before, applied for every set bit."""
    if not crc1:
        return crc2  # the operator is linear, so it maps 0 to 0
    for k in range(len2.bit_length()):
        if len2 >> k & 1:
            crc1 = _gf2_times(_zero_bytes_operator(k), crc1)
    return crc1 ^ crc2


_ZERO_OPERATORS: list[list[int]] = []


def _zero_bytes_operator(k: int) -> list[int]:
    """The matrix that appends 2**k zero bytes, as 32 column words."""
    if not _ZERO_OPERATORS:
        operator = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
        for _ in range(3):  # 8 bits
            operator = _gf2_square(operator)
        _ZERO_OPERATORS.append(operator)
    while len(_ZERO_OPERATORS) <= k:
        _ZERO_OPERATORS.append(_gf2_square(_ZERO_OPERATORS[-1]))
    return _ZERO_OPERATORS[k]


def _gf2_times(matrix: list[int], vector: int) -> int:
    total = 0
    for column in matrix:
        if not vector:
            break
        if vector & 1:
            total ^= column
        vector >>= 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, column) for column in matrix]
