"""Decompressor fuzzing: `python -m tests.fuzz.mutate --cases 10000` (`make fuzz`)."""
