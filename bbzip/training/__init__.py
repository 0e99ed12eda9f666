"""Training-only code: the only part of bbzip that imports torch."""
