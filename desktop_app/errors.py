"""Errors the user can act on: each message says what went wrong, where, and how to fix it."""


class UserError(Exception):
    """A problem with the user's input or environment; shown as one line, never as a traceback."""

    exit_code = 1  # what the CLI exits with; a subclass may say more (2: refused, try again later)
