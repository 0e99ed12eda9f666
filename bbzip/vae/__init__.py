"""Bits-back VAE coding of images: formats, the integer network, the coder (numpy only)."""
