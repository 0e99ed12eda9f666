"""Learned lossless coding of natural images of any size, gray and RGB (coder 0x06)."""
