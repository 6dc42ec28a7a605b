"""Point-stream framing: header, numbered chunks, trailer with count and SHA-256 digest."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.errors import StreamError
from model.sizes import CHUNK_ITEMS
from wire.streams import chunk_payloads, point_messages, read_header, unframe
from wire.v1 import points_pb2

ITEM = 32
HEADER = points_pb2.StreamHeader(query_id="q-1", set_owner="brand")


def _payload(points: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(points * ITEM)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given byte offsets (any offsets, not only whole points)."""
    edges = sorted({0, len(data), *(c for c in cuts if 0 < c < len(data))})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _messages(points: int, seed: int = 0) -> list[points_pb2.PointMessage]:
    return list(point_messages(HEADER, [_payload(points, seed)]))


def _read(messages: list[points_pb2.PointMessage]) -> tuple[points_pb2.StreamHeader, bytes]:
    stream = iter(messages)
    header = read_header(stream, "test stream")
    return header, b"".join(unframe(stream, ITEM, "points", "test stream"))


def _chunk(seq: int, data: bytes) -> points_pb2.PointMessage:
    return points_pb2.PointMessage(chunk=points_pb2.PointChunk(seq=seq, points=data))


def _trailer(count: int, digest: bytes) -> points_pb2.PointMessage:
    return points_pb2.PointMessage(trailer=points_pb2.StreamTrailer(count=count, digest=digest))


# --- round trip ---------------------------------------------------------------------------------

sizes = st.one_of(
    st.sampled_from([0, 1, CHUNK_ITEMS - 1, CHUNK_ITEMS, CHUNK_ITEMS + 1, 2 * CHUNK_ITEMS]),
    st.integers(min_value=0, max_value=3 * CHUNK_ITEMS),
)


@settings(max_examples=40, deadline=None)
@given(points=sizes, seed=st.integers(0, 2**32), cuts=st.lists(st.integers(0, 10**6), max_size=6))
def test_round_trip(points: int, seed: int, cuts: list[int]) -> None:
    data = _payload(points, seed)
    messages = list(point_messages(HEADER, _split(data, cuts)))
    assert messages[0].WhichOneof("body") == "header"
    assert messages[-1].WhichOneof("body") == "trailer"
    chunks = [m.chunk for m in messages[1:-1]]
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert len(chunks) == -(-points // CHUNK_ITEMS)  # ceil: full chunks except the last
    assert all(0 < len(c.points) <= CHUNK_ITEMS * ITEM for c in chunks)
    assert messages[-1].trailer.count == points
    assert messages[-1].trailer.digest == hashlib.sha256(data).digest()
    header, received = _read(messages)
    assert header == HEADER
    assert received == data


def test_exactly_one_full_chunk() -> None:
    messages = _messages(CHUNK_ITEMS)
    assert [m.WhichOneof("body") for m in messages] == ["header", "chunk", "trailer"]
    assert len(messages[1].chunk.points) == CHUNK_ITEMS * ITEM
    assert _read(messages)[1] == _payload(CHUNK_ITEMS)


def test_empty_stream_has_no_chunks() -> None:
    messages = _messages(0)
    assert [m.WhichOneof("body") for m in messages] == ["header", "trailer"]
    assert messages[-1].trailer.count == 0
    assert _read(messages)[1] == b""


def test_stream_without_header() -> None:
    messages = list(point_messages(None, [_payload(3)]))
    assert messages[0].WhichOneof("body") == "chunk"
    assert b"".join(unframe(iter(messages), ITEM, "points", "s")) == _payload(3)


def test_chunk_payloads_recuts_blobs() -> None:
    blobs = [b"a" * 5, b"b" * 7, b"", b"c" * 9]
    assert list(chunk_payloads(blobs, item_bytes=1, items=4)) == [
        b"aaaa",
        b"abbb",
        b"bbbb",
        b"cccc",
        b"cccc",
        b"c",
    ]


@given(
    st.lists(st.binary(max_size=40), max_size=12),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=9),
)
def test_chunk_payloads_cuts_like_the_joined_bytes(
    blobs: list[bytes], item_bytes: int, items: int
) -> None:
    """Whatever the blob sizes: full chunks of the joined bytes in order, then the rest."""
    whole = b"".join(blobs)
    limit = item_bytes * items
    expected = [whole[i : i + limit] for i in range(0, len(whole), limit)]
    assert list(chunk_payloads(blobs, item_bytes, items)) == expected


# --- refusals -----------------------------------------------------------------------------------


def _two_chunk_stream() -> list[points_pb2.PointMessage]:
    messages = _messages(CHUNK_ITEMS + 5)
    assert [m.WhichOneof("body") for m in messages] == ["header", "chunk", "chunk", "trailer"]
    return messages


def test_missing_trailer_is_truncation() -> None:
    messages = _two_chunk_stream()[:-1]
    with pytest.raises(StreamError, match=r"test stream: .*without a trailer \(truncated\)"):
        _read(messages)
    with pytest.raises(StreamError, match="truncated"):
        _read(_two_chunk_stream()[:1])  # header only


def test_sequence_gap() -> None:
    messages = _two_chunk_stream()
    messages[2].chunk.seq = 2
    with pytest.raises(StreamError, match="chunk 2 arrived where chunk 1 was expected"):
        _read(messages)


def test_first_chunk_must_be_zero() -> None:
    messages = _two_chunk_stream()
    messages[1].chunk.seq = 1
    with pytest.raises(StreamError, match="chunk 1 arrived where chunk 0 was expected"):
        _read(messages)


def test_repeated_sequence_number() -> None:
    messages = _two_chunk_stream()
    messages.insert(2, messages[1])
    with pytest.raises(StreamError, match="chunk 0 arrived where chunk 1 was expected"):
        _read(messages)


def test_wrong_trailer_count() -> None:
    messages = _two_chunk_stream()
    messages[-1].trailer.count += 1
    with pytest.raises(StreamError, match=rf"trailer counts {CHUNK_ITEMS + 6} items but"):
        _read(messages)


def test_wrong_digest() -> None:
    messages = _two_chunk_stream()
    messages[-1].trailer.digest = hashlib.sha256(b"other").digest()
    with pytest.raises(StreamError, match="digest does not match"):
        _read(messages)


def test_altered_chunk_fails_the_digest() -> None:
    messages = _two_chunk_stream()
    data = bytearray(messages[2].chunk.points)
    data[0] ^= 1
    messages[2].chunk.points = bytes(data)
    with pytest.raises(StreamError, match="digest does not match"):
        _read(messages)


@pytest.mark.parametrize("size", [1, 31, 33, 32 * 3 + 1])
def test_chunk_not_a_multiple_of_the_item_size(size: int) -> None:
    data = bytes(size)
    messages = [points_pb2.PointMessage(header=HEADER), _chunk(0, data), _trailer(0, b"")]
    with pytest.raises(StreamError, match=rf"chunk 0 holds {size} bytes"):
        _read(messages)


def test_empty_chunk() -> None:
    messages = [points_pb2.PointMessage(header=HEADER), _chunk(0, b""), _trailer(0, b"")]
    with pytest.raises(StreamError, match="chunk 0 holds 0 bytes"):
        _read(messages)


def test_oversized_chunk() -> None:
    data = _payload(CHUNK_ITEMS + 1)
    messages = [
        points_pb2.PointMessage(header=HEADER),
        _chunk(0, data),
        _trailer(CHUNK_ITEMS + 1, hashlib.sha256(data).digest()),
    ]
    with pytest.raises(StreamError, match=rf"at most {CHUNK_ITEMS * ITEM}"):
        _read(messages)


@pytest.mark.parametrize("extra", ["chunk", "trailer", "header"])
def test_message_after_trailer(extra: str) -> None:
    messages = _messages(10)
    follow = {
        "chunk": _chunk(1, _payload(1)),
        "trailer": messages[-1],
        "header": messages[0],
    }[extra]
    with pytest.raises(StreamError, match=f"a {extra} message after the trailer"):
        _read([*messages, follow])


def test_header_inside_the_stream() -> None:
    messages = _messages(10)
    messages.insert(2, messages[0])
    with pytest.raises(StreamError, match="unexpected header message"):
        _read(messages)


def test_empty_message_inside_the_stream() -> None:
    messages = _messages(10)
    messages.insert(2, points_pb2.PointMessage())
    with pytest.raises(StreamError, match="unexpected empty message"):
        _read(messages)


@pytest.mark.parametrize(
    "first, kind",
    [(None, "nothing"), ("chunk", "chunk"), ("trailer", "trailer"), ("empty", "an empty message")],
)
def test_missing_header(first: str | None, kind: str) -> None:
    messages = _messages(3)
    stream: Iterator[points_pb2.PointMessage]
    if first is None:
        stream = iter([])
    elif first == "empty":
        stream = iter([points_pb2.PointMessage()])
    else:
        stream = iter([m for m in messages if m.WhichOneof("body") == first])
    with pytest.raises(StreamError, match=f"must open with a header, got {kind}"):
        read_header(stream, "test stream")


def test_nothing_is_yielded_past_a_bad_chunk() -> None:
    messages = _two_chunk_stream()
    messages[2].chunk.seq = 5
    stream = iter(messages)
    read_header(stream, "s")
    received = []
    with pytest.raises(StreamError):
        for payload in unframe(stream, ITEM, "points", "s"):
            received.append(payload)
    assert received == [messages[1].chunk.points]
