"""The stream decoders and codecs under random input, for a bounded time: they return a value or
raise their documented error (StreamError, DecodeError, InvalidPoint, PaillierError,
ValueError), never anything else."""

from __future__ import annotations

import hashlib
import sys
import time
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.errors import StreamError
from protocols import ristretto
from protocols.paillier import PaillierError, PaillierPublicKey, ciphertext_from_bytes
from wire import node_serde as codec
from wire.streams import read_header, unframe
from wire.v1 import node_pb2, points_pb2

FUZZ = settings(
    max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow], database=None
)
N = (1 << 2047) + 1155  # an odd modulus of 2048 bits (no factoring needed to decode)
KEY = PaillierPublicKey(N)

chunks = st.builds(
    lambda seq, data: points_pb2.PointMessage(chunk=points_pb2.PointChunk(seq=seq, points=data)),
    st.integers(0, 4),
    st.one_of(st.binary(max_size=200), st.integers(0, 5).map(lambda n: b"\x01" * 32 * n)),
)
trailers = st.builds(
    lambda count, digest: points_pb2.PointMessage(
        trailer=points_pb2.StreamTrailer(count=count, digest=digest)
    ),
    st.integers(0, 10),
    st.one_of(st.binary(max_size=32), st.just(hashlib.sha256(b"").digest())),
)
headers = st.builds(
    lambda q: points_pb2.PointMessage(header=points_pb2.StreamHeader(query_id=q)), st.text()
)
messages = st.lists(
    st.one_of(chunks, trailers, headers, st.just(points_pb2.PointMessage())), max_size=8
)


@FUZZ
@given(messages)
def test_unframe_random_messages(stream: list[points_pb2.PointMessage]) -> None:
    try:
        payloads = list(unframe(iter(stream), 32, "points", "fuzz"))
    except StreamError as error:
        assert str(error).startswith("fuzz: ")
        return
    assert all(len(p) % 32 == 0 and p for p in payloads)
    kinds = [m.WhichOneof("body") for m in stream]
    assert kinds[-1] == "trailer" and kinds.count("trailer") == 1


@FUZZ
@given(messages)
def test_read_header_random_messages(stream: list[points_pb2.PointMessage]) -> None:
    try:
        header = read_header(iter(stream), "fuzz")
    except StreamError:
        assert not stream or stream[0].WhichOneof("body") != "header"
        return
    assert stream[0].header == header


@FUZZ
@given(st.lists(st.binary(max_size=120), max_size=6))
def test_unframe_random_wire_bytes(bodies: list[bytes]) -> None:
    parsed = []
    for body in bodies:
        try:
            parsed.append(points_pb2.PointMessage.FromString(body))
        except DecodeError:
            return
    try:
        read_header(iter(parsed), "fuzz")
        list(unframe(iter(parsed[1:]), 32, "points", "fuzz"))
    except StreamError:
        pass


@FUZZ
@given(st.binary(min_size=0, max_size=96))
def test_point_validation(data: bytes) -> None:
    try:
        ristretto.validate_points(data)
    except InvalidPointOrLength:
        return


InvalidPointOrLength = (ristretto.InvalidPoint, ValueError)


@FUZZ
@given(st.binary(max_size=600))
def test_ciphertext_decoding(data: bytes) -> None:
    try:
        value = ciphertext_from_bytes(KEY, data)
    except PaillierError:
        return
    assert 0 <= value < N * N


cells = st.builds(
    lambda a, c, ct: node_pb2.AggregateCell(attribute=a, cell=c, ciphertext=ct),
    st.sampled_from(["", "age_band", "spend", "x"]),
    st.sampled_from(["overlap", "count", "sum", "sum_sq", "18-24", "f"]),
    st.binary(max_size=16),
)
specs = st.one_of(
    st.builds(
        lambda name, domain: node_pb2.AttributeSpec(
            name=name, categorical=node_pb2.CategoricalSpec(domain=domain)
        ),
        st.sampled_from(["age_band", "x"]),
        st.lists(st.text(max_size=4), max_size=3),
    ),
    st.builds(
        lambda name, lo, hi: node_pb2.AttributeSpec(
            name=name, numeric=node_pb2.NumericSpec(lower=lo, upper=hi, scale=1)
        ),
        st.sampled_from(["spend", "x"]),
        st.floats(allow_nan=True),
        st.floats(allow_nan=True),
    ),
    st.builds(lambda name: node_pb2.AttributeSpec(name=name), st.text(max_size=3)),
)


@FUZZ
@given(st.lists(cells, max_size=6), st.lists(specs, max_size=3))
def test_aggregate_codec(cells_: list[Any], specs_: list[Any]) -> None:
    message = node_pb2.AggregateResponse(party="p", cells=cells_, attributes=specs_)
    try:
        codec.aggregate_from_proto(KEY, message)
    except ValueError:  # PaillierError and attribute errors are ValueErrors
        return


@pytest.mark.slow  # a coverage-guided fuzzing run (200,000 inputs)
def test_atheris_stream_decoder() -> None:
    """A short coverage-guided run over raw wire bytes into the point-stream decoder."""
    atheris = pytest.importorskip("atheris")
    import subprocess

    script = """
import sys, time
import atheris
with atheris.instrument_imports():
    from wire.streams import StreamError, read_header, unframe
    from wire.v1 import points_pb2
from google.protobuf.message import DecodeError
STOP = time.monotonic() + 20

def one(data: bytes) -> None:
    if time.monotonic() > STOP:
        raise SystemExit(0)
    fdp = atheris.FuzzedDataProvider(data)
    count = fdp.ConsumeIntInRange(0, 5)
    bodies = [fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80)) for _ in range(count)]
    try:
        parsed = [points_pb2.PointMessage.FromString(b) for b in bodies]
    except DecodeError:
        return
    try:
        read_header(iter(parsed), "fuzz")
        list(unframe(iter(parsed[1:]), 32, "points", "fuzz"))
    except StreamError:
        pass

atheris.Setup([sys.argv[0], "-runs=200000"], one)
atheris.Fuzz()
"""
    assert atheris is not None
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.monotonic() - started < 90
