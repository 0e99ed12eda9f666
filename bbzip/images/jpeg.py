"""JPEG files recompressed byte for byte by Lepton (coder 0x07), through the optional
`lepton-jpeg-python` package (`pip install 'bbzip[jpeg]'`).

The payload is a Lepton file: Lepton re-codes the JPEG's Huffman-coded coefficients with
an adaptive arithmetic coder and keeps every other byte (headers, markers, trailing data),
so decoding gives the JPEG back exactly. The encoder decodes what it wrote and compares
before the coder is chosen; anything Lepton refuses or gets wrong stays with the other
coders. Without the package, JPEG files simply go to the other coders; only decoding a
Lepton block needs it.
"""

from __future__ import annotations

from bbzip.errors import CorruptError, UnsupportedError

PACKAGE = "lepton-jpeg-python"
# Start of image, then the first marker's 0xFF: every JPEG begins so.
MAGIC = b"\xff\xd8\xff"
# One partition: the smallest output (1.7 % below Lepton's default of 8 on a 5120x2880
# photo), and a fixed setting, so the output never depends on the machine.
_COMPRESS_CONFIG = {"max_partitions": 1}


def is_jpeg(prefix: bytes) -> bool:
    return prefix[:3] == MAGIC


def _lepton(required: bool):
    try:
        import lepton_jpeg_python
    except ImportError:
        if required:
            raise UnsupportedError(f"this block needs the {PACKAGE} package (pip install 'bbzip[jpeg]')") from None
        return None
    return lepton_jpeg_python


def available() -> bool:
    return _lepton(False) is not None


class LeptonCoder:
    coder_id = 0x07
    name = "jpeg"

    def encode(self, data: bytes) -> bytes:
        """The Lepton file of JPEG ``data``, verified; UnsupportedError when Lepton refuses
        it, does not give it back exactly, or is not installed."""
        lepton = _lepton(False)
        if lepton is None:
            raise UnsupportedError(f"the jpeg coder needs the {PACKAGE} package (pip install 'bbzip[jpeg]')")
        if not is_jpeg(data):
            raise UnsupportedError("input is not a JPEG file")
        try:
            payload = lepton.compress_bytes(bytes(data), _COMPRESS_CONFIG)
            back = lepton.decompress_bytes(payload, {"max_jpeg_file_size": len(data)})
        except (RuntimeError, ValueError, OverflowError, MemoryError) as exc:
            raise UnsupportedError(f"Lepton refuses this JPEG: {str(exc).splitlines()[0]}") from None
        if back != data:
            raise UnsupportedError("Lepton does not give this JPEG back exactly")
        return bytes(payload)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        lepton = _lepton(True)
        try:
            # The limit keeps a damaged header from making Lepton build a larger output.
            data = lepton.decompress_bytes(bytes(payload), {"max_jpeg_file_size": raw_size})
        except (RuntimeError, ValueError, OverflowError, MemoryError) as exc:
            raise CorruptError(f"Lepton block: {str(exc).splitlines()[0]}") from None
        if len(data) != raw_size:
            raise CorruptError("Lepton block decoded to the wrong length")
        return bytes(data)
