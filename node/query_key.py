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
from collections.abc import Iterable, Sequence

from runtime.signing import SHARED

FINGERPRINT_SECRET = "querier-set-fingerprint"  # name of the node's secret in its ledger


def set_fingerprint(key: bytes, elements: Iterable[bytes]) -> str:
    """HMAC-SHA256 (hex) over the set's distinct elements in sorted order, each length-prefixed."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for element in sorted(elements):
        mac.update(len(element).to_bytes(4, "big"))
        mac.update(element)
    return mac.hexdigest()


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
