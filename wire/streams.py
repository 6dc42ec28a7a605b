"""Framing of chunked streams: a header, numbered chunks, and a trailer with count and digest.

Used for blinded points (32 bytes each) and indicator ciphertexts (fixed width). A stream that
ends without its trailer, skips or repeats a sequence number, carries a chunk larger than the
limit, or whose trailer disagrees with what arrived, is refused with `StreamError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from model.errors import StreamError
from model.sizes import CHUNK_ITEMS
from wire.v1 import points_pb2

CHUNK_BYTES_LIMIT = 1024 * 1024


def items_per_chunk(item_bytes: int) -> int:
    """How many fixed-width items one chunk carries: 8192 points, or up to 1 MiB of ciphertexts."""
    return max(1, min(CHUNK_ITEMS, CHUNK_BYTES_LIMIT // item_bytes))


def chunk_payloads(
    blobs: Iterable[bytes], item_bytes: int, items: int = CHUNK_ITEMS
) -> Iterator[bytes]:
    """Re-cut a sequence of byte blobs into chunks of at most `items` items.

    A large blob is cut through a view, not copied whole: only the chunk being sent is a copy.
    """
    limit = item_bytes * items
    pending = bytearray()
    for blob in blobs:
        view = memoryview(blob)
        if pending:
            taken = limit - len(pending)
            pending += view[:taken]
            view = view[taken:]
            if len(pending) < limit:
                continue
            yield bytes(pending)
            pending = bytearray()
        while len(view) >= limit:
            yield bytes(view[:limit])
            view = view[limit:]
        pending += view
    if pending:
        yield bytes(pending)


def frame(
    payloads: Iterable[bytes],
    item_bytes: int,
    make_chunk: Callable[[int, bytes], Any],
    make_trailer: Callable[[points_pb2.StreamTrailer], Any],
) -> Iterator[Any]:
    """Wrap payload chunks into numbered chunk messages, then a trailer."""
    digest = hashlib.sha256()
    count = 0
    items = items_per_chunk(item_bytes)
    for seq, payload in enumerate(chunk_payloads(payloads, item_bytes, items)):
        digest.update(payload)
        count += len(payload) // item_bytes
        yield make_chunk(seq, payload)
    yield make_trailer(points_pb2.StreamTrailer(count=count, digest=digest.digest()))


def point_messages(
    header: points_pb2.StreamHeader | None, payloads: Iterable[bytes]
) -> Iterator[points_pb2.PointMessage]:
    """A point stream: optional header, chunks of at most 8192 points, trailer."""
    if header is not None:
        yield points_pb2.PointMessage(header=header)
    yield from frame(
        payloads,
        32,
        lambda seq, data: points_pb2.PointMessage(
            chunk=points_pb2.PointChunk(seq=seq, points=data)
        ),
        lambda trailer: points_pb2.PointMessage(trailer=trailer),
    )


def unframe(
    messages: Iterator[Any],
    item_bytes: int,
    payload_field: str,
    source: str,
) -> Iterator[bytes]:
    """Yield checked chunk payloads up to and including a verified trailer."""
    digest = hashlib.sha256()
    count = 0
    expected_seq = 0
    limit = item_bytes * items_per_chunk(item_bytes)
    for message in messages:
        kind = message.WhichOneof("body")
        if kind == "chunk":
            chunk = message.chunk
            if chunk.seq != expected_seq:
                raise StreamError(
                    f"{source}: chunk {chunk.seq} arrived where chunk {expected_seq} was expected"
                )
            payload: bytes = getattr(chunk, payload_field)
            if not payload or len(payload) % item_bytes or len(payload) > limit:
                raise StreamError(
                    f"{source}: chunk {chunk.seq} holds {len(payload)} bytes; expected a "
                    f"non-empty multiple of {item_bytes} of at most {limit}"
                )
            expected_seq += 1
            digest.update(payload)
            count += len(payload) // item_bytes
            yield payload
        elif kind == "trailer":
            trailer = message.trailer
            if trailer.count != count:
                raise StreamError(
                    f"{source}: trailer counts {trailer.count} items but {count} arrived"
                )
            if trailer.digest != digest.digest():
                raise StreamError(f"{source}: trailer digest does not match the chunks received")
            for extra in messages:
                raise StreamError(
                    f"{source}: a {extra.WhichOneof('body')} message after the trailer"
                )
            return
        else:
            raise StreamError(f"{source}: unexpected {kind or 'empty'} message inside the stream")
    raise StreamError(f"{source}: stream ended after {count} items without a trailer (truncated)")


def read_header(messages: Iterator[Any], source: str) -> Any:
    """The first message of a stream, which must be its header."""
    first = next(messages, None)
    if first is None or first.WhichOneof("body") != "header":
        kind = "nothing" if first is None else first.WhichOneof("body") or "an empty message"
        raise StreamError(f"{source}: stream must open with a header, got {kind}")
    return first.header
