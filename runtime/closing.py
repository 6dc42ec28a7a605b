"""A base for stores and clients that close when a `with` block is left, error or not."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class ClosedOnExit:
    """`with x:` gives x itself and calls `x.close()` on leaving, error or not."""

    def close(self) -> None:
        """Release what the object holds (files, connections, channels)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
