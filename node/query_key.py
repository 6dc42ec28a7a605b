"""What makes two queries the same: the content key of cached answers and the set fingerprint.

An identical repeated query gets the answer released before (no fresh noise, no new charge), so
the key must cover everything the answer depends on, the querier's own set included: F and F plus
one member are different queries. The querier's node fingerprints its set with HMAC-SHA256 under
a secret only it holds (the coordinator and the owners cannot test guesses of the set against
it) and the coordinator hands the fingerprint to the other nodes, which put it in the key.

A querier whose node lies about its fingerprint gains nothing: naming an earlier fingerprint for
a new set returns that earlier, already released answer (nothing new is released for the new
set: the cached answer replaces the fresh one at every noising party); naming a fresh
fingerprint for an old set buys a freshly noised answer, charged in full like any new query.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from runtime.signing import SHARED

FINGERPRINT_SECRET = "querier-set-fingerprint"  # name of the node's secret in its ledger


def set_fingerprint(key: bytes, elements: Iterable[bytes]) -> str:
    """HMAC-SHA256 (hex) of the set's size and its keyed multiset hash, in one pass.

    The multiset hash is MSet-Add-Hash (Clarke et al., 2003) in the group (Z/2**64)**4: a keyed
    BLAKE2b-256 of each distinct element read as four 64-bit words, added word by word. It does
    not depend on the order, so the set is read once in its own order with nothing held
    (sorting 10M packed elements first would make 10M byte objects, ~700 MiB). Without the key
    nobody can compute or steer it, and a collision gains a querier nothing (see above).
    """
    prf_key = hashlib.sha256(b"gongying-set-fingerprint/2" + key).digest()
    total = np.zeros(4, dtype=np.uint64)
    count = 0
    for chunk in _chunks(elements):
        digests = b"".join(
            hashlib.blake2b(element, key=prf_key, digest_size=32).digest() for element in chunk
        )
        words = np.frombuffer(digests, dtype="<u8").reshape(-1, 4)
        total += words.sum(axis=0, dtype=np.uint64)  # wraps mod 2**64, as the group adds
        count += len(chunk)
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(b"mset-add/2")
    mac.update(count.to_bytes(8, "big"))
    mac.update(total.astype("<u8").tobytes())
    return mac.hexdigest()


def _chunks(elements: Iterable[bytes], size: int = 8192) -> Iterator[Sequence[bytes]]:
    """A sequence in slices (a packed one cuts slices at once), anything else in lists."""
    if isinstance(elements, Sequence):
        for start in range(0, len(elements), size):
            yield elements[start : start + size]
        return
    batch: list[bytes] = []
    for element in elements:
        batch.append(element)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def query_key(
    kind: str,
    querier: str,
    parties: Sequence[str],
    attributes: Sequence[str],
    id_type: str,
    querier_set: str,
    audience: str = SHARED,
) -> str:
    """The identity of a query's content (for cached noised answers); the ledger reuses an
    answer only while its charge is inside the partner's rolling budget window."""
    content = {
        "kind": kind,
        "querier": querier,
        "parties": list(parties),
        "attributes": list(attributes),
        "id_type": id_type,
        "querier_set": querier_set,
    }
    if audience != SHARED:  # shared-audience keys stay as they were before audiences existed
        content["audience"] = audience
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
