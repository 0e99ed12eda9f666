"""An independent reference decoder of the .bbz format, written from docs/ only.

It imports nothing from bbzip: every step follows docs/FORMAT.md and docs/SPEC-natural.md,
so a golden file that this decoder reads back byte for byte shows that the documents
specify the format completely. Slow on purpose (plain Python per lane); it is a proof,
not a tool.
"""
