"""Points appended to named files in a private temporary directory, read back one file at a time.

The two steps that must not hold a whole set in memory use it: the coordinator's matching (files
by point prefix, `coordinator.spill`) and a node's reshuffle of a set it re-blinded (files chosen
at random, `node.reshuffle`). Appends go through a small buffer per file. The directory is made
with mode 0700 under TMPDIR (or `directory`) and removed on `close`, error or not; its name
carries the process id, so a process killed with SIGKILL, which cannot remove its own, leaves a
directory the next one made with the same prefix removes once that process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from protocols.psi import POINT_BYTES
from runtime.closing import ClosedOnExit

BUFFER_POINTS = 1024


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's live process
        return False
    return False


def remove_orphaned(prefix: str, directory: str | Path | None = None) -> list[Path]:
    """Remove this user's `prefix` directories in `directory` (default TMPDIR) whose process no
    longer runs; the ones removed."""
    removed = []
    for path in Path(directory or tempfile.gettempdir()).glob(prefix + "*-*"):
        pid = path.name.removeprefix(prefix).partition("-")[0]
        if not pid.isdigit() or not path.is_dir() or path.stat().st_uid != os.getuid():
            continue
        if _process_gone(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class PointFiles(ClosedOnExit):
    """Named files of 32-byte points in one private temporary directory.

    `append` is safe from several threads; a context manager removes the directory on leaving.
    With `buffer_points` 0 every append is written at once.
    """

    def __init__(
        self,
        prefix: str,
        directory: str | Path | None = None,
        buffer_points: int = BUFFER_POINTS,
    ) -> None:
        remove_orphaned(prefix, directory)
        self._temporary = tempfile.TemporaryDirectory(
            prefix=f"{prefix}{os.getpid()}-", dir=directory
        )
        self.folder = Path(self._temporary.name)
        self._limit = buffer_points * POINT_BYTES
        self._buffers: dict[str, bytearray] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        """The file `name` (it may not exist yet: nothing written under that name)."""
        return self.folder / f"{name}.points"

    def append(self, name: str, points: bytes) -> None:
        """Add `points` to the end of file `name` (buffered)."""
        with self._lock:
            buffer = self._buffers.setdefault(name, bytearray())
            buffer += points
            if len(buffer) >= self._limit:
                self._write(name)

    def flush(self) -> None:
        """Write every buffered point out."""
        with self._lock:
            for name in list(self._buffers):
                self._write(name)

    def read(self, name: str) -> bytes:
        """Everything appended under `name`, in order (flushed first)."""
        with self._lock:
            if name in self._buffers:
                self._write(name)
        path = self.path(name)
        return path.read_bytes() if path.exists() else b""

    def remove(self, name: str) -> None:
        """Delete file `name` (and drop its buffer); reading it again gives nothing."""
        with self._lock:
            self._buffers.pop(name, None)
        self.path(name).unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the directory and everything in it."""
        self._temporary.cleanup()

    def _write(self, name: str) -> None:
        buffer = self._buffers.pop(name)
        if buffer:
            with self.path(name).open("ab") as file:
                file.write(buffer)
