"""libsodium, loaded once from rbcl's bundled copy, for ristretto255 and X25519 through ctypes.

Binding choice: PyNaCl ships a *minimal* libsodium without the ristretto255 functions, so we use
`rbcl`, which bundles a full libsodium and installs from pip alone. `rbcl` writes a copy of that
shared library into the temp folder at every import and never removes it; we unlink the copy as
soon as it is loaded (the mapping stays valid on POSIX), so no file is left behind per process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys


def _load() -> ctypes.CDLL:
    """Import rbcl's libsodium and delete the temporary copy it writes at import."""
    import rbcl  # noqa: F401  (the import itself loads the library)

    for name in ("rbcl._sodium", "_sodium"):
        path = getattr(sys.modules.get(name), "lib_path", None)
        if isinstance(path, str) and os.path.exists(path):
            with contextlib.suppress(OSError):
                os.unlink(path)
    library: ctypes.CDLL = sys.modules["rbcl.rbcl"]._sodium
    return library


LIBRARY = _load()
