"""Numbers that training, the integer runtime, the .bbz format and the fuzzer must agree on,
written once. Plain values with no imports, so every layer may use them (torch-free)."""

# A model's ID is the first MODEL_ID_BYTES of its file's SHA-256; block headers carry it.
MODEL_ID_BYTES = 8
# The digit VAE's coder ID in block headers (docs/FORMAT.md); never reused.
VAE_CODER_ID = 0x03
# The digit models' images: 28x28 8-bit grayscale, one byte per pixel.
IMAGE_SHAPE = (28, 28)
IMAGE_BYTES = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
# The 8-bit digit model's pixel mixture, in pixel units: mean = MEAN_SCALE * raw + 127.5,
# log-scales and the posterior's log-sigmas clamped to these ranges. Training clamps to
# them and freezing builds its tables over them.
MEAN_SCALE = 64.0
LOG_SCALE = (-4.0, 5.0)
LOG_SIGMA = (-7.0, 4.0)
