"""Errors whose message tells the whole story; the command line prints them without a traceback."""


class ReportedError(Exception):
    """A failure the user can act on from its message alone (bad input, a diverged run, ...)."""
