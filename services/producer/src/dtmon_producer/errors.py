"""The one error type that means "the user's input is wrong", not "the program is broken".

The CLI turns an InputError into exactly one line on stderr and exit code 2, so a bad path,
an empty glob or a wrong S3 bucket never shows a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DELIVERY_FAILED = 1
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad user input; the message names the thing (path, glob, bucket) and what is wrong."""
