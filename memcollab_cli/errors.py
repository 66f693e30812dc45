"""Errors meant for the user: the CLI prints their message as one line and exits 1.

Anything that is not a `MemcollabError` is a bug and keeps its traceback.
"""


class MemcollabError(Exception):
    """An error whose message says what is wrong and how to fix it."""


class ModelError(MemcollabError):
    """A model file or server that cannot be used."""


class DataError(MemcollabError):
    """A data file (tasks, trajectories, banks) that cannot be read."""


class DataUnavailable(DataError):
    """Benchmark data that is not on this machine and cannot be fetched (no network, no MBPP
    directory): unlike a file that does not parse, a reason for a test to skip."""


class PromptError(MemcollabError):
    """A prompt template that is missing or cannot be rendered."""
