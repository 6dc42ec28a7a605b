"""Known answers for the ristretto255 binding: RFC 9496 vectors, our element encoding and
hash_to_point (frozen, and recomputed independently with rbcl), point validation, temp files.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from connectors.identifiers import IdType, psi_element
from protocols import ristretto
from protocols.ristretto import HASH_DOMAIN, POINT_BYTES, InvalidPoint

# Imported after protocols.ristretto, which already loaded rbcl (and removed rbcl's temp copy
# of libsodium), so this does not leave a new /tmp/tmp*.so behind in the test process.
rbcl: Any = importlib.import_module("rbcl")

VECTORS = Path(__file__).parent / "vectors" / "ristretto_psi_kat.json"
REPO = Path(__file__).resolve().parents[2]

# RFC 9496 appendix A.1: encodings of 0*B .. 15*B for the ristretto255 generator B.
RFC9496_MULTIPLES = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
]

# Invalid encodings: RFC 9496 appendix A.2 (non-canonical field encodings, negative field
# elements, s = -1), plus all-0xff and the identity (valid encoding, but refused by us).
INVALID_ENCODINGS = {
    "non-canonical 00ff..ff": "00" + "ff" * 31,
    "non-canonical ff..7f": "ff" * 31 + "7f",
    "non-canonical f3ff..7f": "f3" + "ff" * 30 + "7f",
    "non-canonical edff..7f": "ed" + "ff" * 30 + "7f",
    "negative 01": "01" + "00" * 31,
    "negative 01ff..7f": "01" + "ff" * 30 + "7f",
    "s = -1": "ec" + "ff" * 30 + "7f",
    "all 0xff": "ff" * 32,
    "identity": "00" * 32,
}


def _small_scalar(i: int) -> bytes:
    return i.to_bytes(32, "little")


def _vectors() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return doc


def _valid_points(count: int) -> bytes:
    return b"".join(ristretto.hash_to_point(f"email:p{i}@x.cn".encode()) for i in range(count))


# --- RFC 9496 --------------------------------------------------------------------------------


@pytest.mark.parametrize("multiple", range(16))
def test_rfc9496_generator_multiples(multiple: int) -> None:
    expected = bytes.fromhex(RFC9496_MULTIPLES[multiple])
    got = rbcl.crypto_scalarmult_ristretto255_base_allow_scalar_zero(_small_scalar(multiple))
    assert got == expected
    if multiple:
        assert rbcl.crypto_scalarmult_ristretto255_base(_small_scalar(multiple)) == expected
        # our own scalar multiplication agrees: i * B computed through blind_points
        basepoint = bytes.fromhex(RFC9496_MULTIPLES[1])
        assert ristretto.blind_points(basepoint, _small_scalar(multiple)) == expected
        ristretto.validate_points(expected)


def test_rfc9496_multiples_decode_as_valid_points() -> None:
    for encoding in RFC9496_MULTIPLES[1:]:
        assert rbcl.crypto_core_ristretto255_is_valid_point(bytes.fromhex(encoding))


# --- our encodings: element bytes and hash_to_point --------------------------------------------


def test_vector_file_domain_matches_code() -> None:
    assert _vectors()["hash_domain"].encode() == HASH_DOMAIN


@pytest.mark.parametrize("case", _vectors()["elements"], ids=lambda c: f"{c['id_type']}")
def test_element_encoding_and_hash_to_point_known_answers(case: dict[str, str]) -> None:
    element = psi_element(IdType(case["id_type"]), case["value"])
    assert element == f"{case['id_type']}:{case['value']}".encode()
    assert element.hex() == case["element_hex"]
    digest = hashlib.sha512(HASH_DOMAIN + element).digest()
    assert digest.hex() == case["sha512_hex"]
    point = ristretto.hash_to_point(element)
    assert point.hex() == case["point_hex"]
    # independent path: rbcl's own from_hash over SHA-512(domain || x) computed here
    assert rbcl.crypto_core_ristretto255_from_hash(digest) == point
    ristretto.validate_points(point)


def test_hash_to_point_matches_rbcl_on_many_elements() -> None:
    for i in range(200):
        element = psi_element(IdType.EMAIL, f"user{i}@shop{i % 7}.com")
        expected = rbcl.crypto_core_ristretto255_from_hash(
            hashlib.sha512(HASH_DOMAIN + element).digest()
        )
        assert ristretto.hash_to_point(element) == expected


def test_hash_and_blind_equals_blinding_hashed_points() -> None:
    elements = [f"phone:+86138{i:08d}".encode() for i in range(50)]
    scalar = ristretto.random_scalar()
    expected = b"".join(
        rbcl.crypto_scalarmult_ristretto255(scalar, ristretto.hash_to_point(e)) for e in elements
    )
    assert ristretto.hash_and_blind(elements, scalar, len(elements)) == expected
    assert ristretto.blind_points(b"".join(map(ristretto.hash_to_point, elements)), scalar) == (
        expected
    )


def test_hash_and_blind_checks_the_announced_count() -> None:
    scalar = ristretto.random_scalar()
    with pytest.raises(ValueError, match="announced"):
        ristretto.hash_and_blind([b"email:a@b.cn"], scalar, 2)
    with pytest.raises(ValueError, match="more than"):
        ristretto.hash_and_blind([b"email:a@b.cn", b"email:c@d.cn"], scalar, 1)


def test_domain_separation_changes_the_point() -> None:
    element = b"email:alice@example.com"
    undomained = rbcl.crypto_core_ristretto255_from_hash(hashlib.sha512(element).digest())
    assert ristretto.hash_to_point(element) != undomained


def test_invert_scalar_unblinds() -> None:
    scalar = ristretto.random_scalar()
    point = ristretto.hash_to_point(b"email:bob@example.org")
    blinded = ristretto.blind_points(point, scalar)
    assert blinded != point
    assert ristretto.blind_points(blinded, ristretto.invert_scalar(scalar)) == point
    with pytest.raises(ValueError, match="zero"):
        ristretto.invert_scalar(bytes(32))


# --- invalid encodings -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(INVALID_ENCODINGS))
@pytest.mark.parametrize("position", [0, 3])
def test_invalid_encoding_is_rejected_naming_its_index(name: str, position: int) -> None:
    bad = bytes.fromhex(INVALID_ENCODINGS[name])
    points = bytearray(_valid_points(5))
    points[position * POINT_BYTES : (position + 1) * POINT_BYTES] = bad
    scalar = ristretto.random_scalar()
    with pytest.raises(InvalidPoint, match=rf"point {position} is invalid") as caught:
        ristretto.blind_points(bytes(points), scalar)
    assert caught.value.index == position
    with pytest.raises(InvalidPoint, match=rf"point {position} is invalid") as caught:
        ristretto.validate_points(bytes(points))
    assert caught.value.index == position
    # first_index shifts the reported position to the point's place in the whole stream
    with pytest.raises(InvalidPoint, match=rf"point {8192 + position} is invalid"):
        ristretto.blind_points(bytes(points), scalar, first_index=8192)
    with pytest.raises(InvalidPoint, match=rf"point {8192 + position} is invalid"):
        ristretto.validate_points(bytes(points), first_index=8192)


def test_valid_points_pass_validation() -> None:
    points = _valid_points(20)
    ristretto.validate_points(points)
    assert len(ristretto.blind_points(points, ristretto.random_scalar())) == len(points)


def test_truncated_encoding_is_rejected() -> None:
    points = _valid_points(3)[:-1]
    with pytest.raises(InvalidPoint, match="point 2 is invalid: truncated"):
        ristretto.validate_points(points)
    with pytest.raises(InvalidPoint, match="point 2 is invalid: truncated"):
        ristretto.blind_points(points, ristretto.random_scalar())


def test_invalid_point_survives_pickling() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(InvalidPoint(7, "why")))
    assert isinstance(error, InvalidPoint)
    assert (error.index, error.reason, str(error)) == (7, "why", "point 7 is invalid: why")


# --- no temporary library copies left behind ----------------------------------------------------


def _run_import(code: str, tmp: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env, timeout=60)


def test_importing_the_binding_leaves_no_temp_library(tmp_path: Path) -> None:
    ours, control = tmp_path / "ours", tmp_path / "control"
    ours.mkdir()
    control.mkdir()
    _run_import("import protocols.ristretto as r; assert len(r.random_scalar()) == 32", ours)
    assert sorted(p.name for p in ours.iterdir()) == []
    # control: a bare rbcl import does leave its copy behind, so the check above can fail
    _run_import("import rbcl", control)
    leftovers = [p for p in control.iterdir() if p.suffix == ".so"]
    assert leftovers, "rbcl no longer writes a temp copy; this test should be revisited"
    for path in leftovers:
        path.unlink()
