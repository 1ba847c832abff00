"""Exceptions raised for bad input.

Every error about user input is an :class:`InputError` whose message names the file and the
record (line, read, sample, key) at fault, so that a user can fix the input without reading code.
"""


class InputError(ValueError):
    """Bad user input: malformed file, unknown contig, empty file, wrong column, config typo.

    The message must name the file and the record, e.g. ``"maps.bed line 3: end 10 < start 20"``.
    """
