"""Pretrained bbzip models (integer .npz files) and their manifest; data only."""
