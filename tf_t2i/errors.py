"""The one exception type for user mistakes."""


class T2IError(Exception):
    """A mistake the user can fix: bad input, a missing file, a mismatched config.

    The message must name the file, line or field at fault. The CLI prints it
    as `Error: ...` and exits with status 2, without a traceback.
    """
