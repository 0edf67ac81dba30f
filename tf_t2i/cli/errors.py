"""Turns library errors into Click errors: a clear message, never a traceback."""

import functools

import click

from tf_t2i.errors import T2IError


def user_errors(command):
    """Decorates a command body so a T2IError (or a missing file) prints as
    `Error: ...` with exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except T2IError as err:
            raise click.UsageError(str(err)) from None
        except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
            raise click.UsageError(f"{err.strerror}: {err.filename}") from None

    return wrapper
