"""Recognising image inputs by content (placeholder until the VAE coder lands)."""

from __future__ import annotations


class ImageStream:
    @staticmethod
    def sniff(first: bytes, src, block_size: int):
        return None


def pixels_in_block(raw_size: int) -> int:
    return 0
