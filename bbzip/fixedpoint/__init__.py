"""The integer-exact runtime that the digit (bbzip.vae) and the natural-image
(bbzip.natural) coders share: fixed-point conventions and tables, the requantised layer,
latent coding, freezing, and the bounds a model must keep (invariants)."""
