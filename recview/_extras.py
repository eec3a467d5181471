"""Lazy imports of the optional packages behind recview's extras.

The core (``import recview``) needs only numpy, construct and pycparser.
pandas, pyarrow and dask are imported here, inside the functions that need
them, so that a missing package costs nothing until it is used and then fails
with an :class:`ImportError` that says which extra to install (as httpx does
for its CLI: "...pip install 'httpx[cli]'").
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["optional", "require"]

# What to ``pip install`` for a top-level module, when the names differ.
_PIP_NAMES = {
    "dask": "dask[dataframe]",
}


def require(module: str, *, extra: str, purpose: str | None = None) -> ModuleType:
    """Import an optional module, or fail with a hint naming the extra.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"pyarrow.parquet"``.
    extra : str
        The recview extra that installs it, e.g. ``"arrow"``.
    purpose : str, optional
        What needs it, for the message (e.g. ``"recview.to_parquet"``).

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    ImportError
        When the module (or one it needs) is not installed. The message names
        the missing package and the ``pip install 'recview[extra]'`` command;
        the original error is chained.

    Examples
    --------
    >>> from recview._extras import require
    >>> require("json", extra="arrow").__name__
    'json'
    >>> require("no_such_module_xyz", extra="arrow")
    Traceback (most recent call last):
    ...
    ImportError: no_such_module_xyz is not installed (needed by recview): pip install 'recview[arrow]'
    """
    top = module.partition(".")[0]
    try:
        # The package first: a submodule already imported is found in
        # sys.modules even when its package has gone (sys.modules[top] = None).
        importlib.import_module(top)
        return importlib.import_module(module)
    except ImportError as err:
        package = _PIP_NAMES.get(top, top)
        raise ImportError(
            f"{package} is not installed (needed by {purpose or 'recview'}): "
            f"pip install 'recview[{extra}]'",
            name=top,
        ) from err


def optional(module: str) -> ModuleType | None:
    """Import an optional module that only improves something, or ``None``.

    For extras whose absence changes nothing but comfort (a ``tqdm``
    progress bar instead of recview's own): no hint is due.

    Examples
    --------
    >>> from recview._extras import optional
    >>> optional("json").__name__, optional("no_such_module_xyz")
    ('json', None)
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
