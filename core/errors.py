"""Exceptions the engine raises for problems a user can fix.

Everything user-facing (CLI, Processing, dialog) shows ``str(error)`` as is,
so messages name the file, the value and what was expected.
"""

from __future__ import annotations


class NCGLF2Error(Exception):
    """Base class: a clear, user-facing problem; no traceback needed."""


class InputError(NCGLF2Error):
    """A raster, label layer or parameter cannot be used as given."""


class ModelFileError(NCGLF2Error):
    """A model or checkpoint file is unreadable, inconsistent or unsafe."""


class OutputError(InputError):
    """An output cannot be written: a full disk, a file that appeared meanwhile, a failed rename.

    An input problem for whoever catches one: the user fixes it by choosing another place or name.
    """


class ClusterError(NCGLF2Error):
    """The Dask cluster cannot finish the run: every worker died or left."""


class Cancelled(NCGLF2Error):
    """The user cancelled the run; nothing was written."""
