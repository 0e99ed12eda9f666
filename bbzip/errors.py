"""Typed errors: the CLI turns every BBZError into one line on stderr and exit 1."""


class BBZError(Exception):
    """Base of every error bbzip reports to users (never a traceback)."""


class FormatError(BBZError):
    """Not a .bbz stream: wrong magic, unsupported version, reserved bits set."""


class CorruptError(BBZError):
    """The stream is damaged: truncated, bad checksum, impossible lengths, bad ANS data."""


class UnsupportedError(BBZError):
    """Well-formed but unusable here: unknown coder ID, or input a forced coder cannot code."""


class ModelError(BBZError):
    """A model is missing, tampered with, or not the one the stream was made with."""


class MissingModelError(ModelError):
    """The model is simply not installed (as opposed to damaged): other coders may stand in."""
