"""Sizes shared by the wire and the executor: items per stream chunk and per executor batch."""

from __future__ import annotations

CHUNK_ITEMS = 8192
