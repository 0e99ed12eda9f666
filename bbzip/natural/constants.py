"""Shapes and scales shared by the natural-image model's training and its integer runtime.

Torch-free: the runtime imports this module, training imports it too, so a number that
must match on both sides is written once.
"""

BLOCK = 8  # latent grid: one latent vector per 8x8 pixels
LATENT = 4  # latent channels per block
HIDDEN = 32  # width of every pixel head
CONTEXT = 7  # causal window: 3 rows above, 3 pixels to the left (24 taps)
MIXTURES = 4  # logistic components per subpixel
CODING_ORDER = (1, 0, 2)  # RGB is coded G, R, B: green carries most of the luminance
MEAN_SCALE = 16.0  # mixture means = MED prediction + MEAN_SCALE * network output
RESIDUAL_SCALE = 16.0  # earlier channels' residuals (x - MED) enter the heads divided by this
LOG_SCALE_MIN = -2.5
LOG_SCALE_MAX = 5.0
LOG_SIGMA_MIN = -7.0
LOG_SIGMA_MAX = 4.0
