"""The Python client for a coordinator: run queries, get plain result objects back."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import grpc

from client.lift import CampaignLift
from client.profile import ClientProfileError, default_profile_path, find_client_profile
from model.progress import QueryProgress as QueryProgress
from model.progress import StepProgress as StepProgress
from model.results import OverlapResult, ProfileResult
from protocols.group_names import DEFAULT_GROUPS
from runtime.certs import COORDINATOR
from runtime.closing import ClosedOnExit
from runtime.serving import channel
from runtime.signing import (
    Segment,
    SignedQueryError,
)
from runtime.tls import ClientTLS as ClientTLS  # re-exported: the SDK's TLS files
from wire import coordinator_serde as codec
from wire.coordinator_serde import progress_from_proto
from wire.query_signer import QuerySigner as QuerySigner  # re-exported: the SDK's signer
from wire.v1 import coordinator_pb2, coordinator_pb2_grpc

log = logging.getLogger(__name__)

ProgressCallback = Callable[[QueryProgress], None]
"""Called with each progress update of a query, from a background thread."""


class QueryError(RuntimeError):
    """A query failed at the coordinator or a node; `code` is the gRPC status name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class CoordinatorClient(ClosedOnExit):
    """A connection to a coordinator at HOST:PORT; mutual TLS when `tls` is given.

    With `tls`, the coordinator's certificate must name `server_name`, and the querier's own
    certificate (a party or a `clients` name in coordinator.toml) is presented. With a `signer`
    every query is signed by the querier, as nodes that run a policy require.
    """

    def __init__(
        self,
        address: str,
        tls: ClientTLS | None = None,
        server_name: str = COORDINATOR,
        signer: QuerySigner | None = None,
    ) -> None:
        self.address = address
        self.signer = signer
        self._channel = channel(address, tls, server_name=server_name)
        self._stub = coordinator_pb2_grpc.CoordinatorStub(self._channel)

    @classmethod
    def from_profile(
        cls,
        path: Path | str | None = None,
        address: str | None = None,
        tls: ClientTLS | None = None,
        signer: QuerySigner | None = None,
    ) -> CoordinatorClient:
        """A client set up from a client profile (see `client.profile`): `path`, or
        `~/.config/gongying/client.toml` by default. The coordinator, TLS files and signer it
        names are used unless given here; ClientProfileError names the file and key that is
        wrong, or says that no coordinator is known."""
        profile = find_client_profile(path)
        if profile is None:
            raise ClientProfileError(
                f"no client profile: {default_profile_path()} does not exist and no path was given"
            )
        where = f"client profile {profile.path}"
        coordinator = address or profile.coordinator
        if coordinator is None:
            raise ClientProfileError(f"{where}: key 'coordinator' is missing (HOST:PORT)")
        if signer is None and profile.signing_key is not None and profile.party is not None:
            try:
                signer = QuerySigner.from_file(profile.party, profile.signing_key)
            except (OSError, SignedQueryError) as error:
                raise ClientProfileError(f"{where}: key 'signing_key': {error}") from None
        return cls(coordinator, tls or profile.tls, profile.server_name, signer)

    def _failure(self, error: grpc.RpcError) -> QueryError:
        if not isinstance(error, grpc.Call):
            return QueryError("UNKNOWN", str(error))
        code = error.code()
        if code == grpc.StatusCode.UNAVAILABLE and "coordinator" not in (error.details() or ""):
            details = error.details() or ""
            if "node " not in details:
                return QueryError(
                    code.name, f"coordinator at {self.address} is unreachable: {details}"
                )
        return QueryError(code.name, error.details() or code.name)

    def _check_agreement(self, agreement: str) -> None:
        """A query for an agreement carries its hash in what the querier signs, so it needs one."""
        if agreement and self.signer is None:
            raise QueryError(
                "INVALID_ARGUMENT",
                f"a query for agreement {agreement[:12]} must be signed: give the client a signer",
            )

    def parties(self, timeout: float = 10.0) -> dict[str, str]:
        """The parties the coordinator knows, with their node addresses."""
        try:
            response = self._stub.ListParties(coordinator_pb2.ListPartiesRequest(), timeout=timeout)
        except grpc.RpcError as error:
            raise self._failure(error) from None
        return {p.party: p.address for p in response.parties}

    def overlap(
        self,
        parties: Sequence[str],
        id_type: str = "email",
        query_id: str = "",
        timeout: float = 900.0,
        on_progress: ProgressCallback | None = None,
        agreement: str = "",
        groups: Sequence[str] = DEFAULT_GROUPS,
    ) -> OverlapResult:
        """How many members the parties share: every exclusive region, pairs and all parties.

        With `on_progress`, the query's progress is watched while it runs and each update is
        passed to it (from a background thread) until the query returns or fails. `agreement`:
        the hash of the agreement the query is run for, signed with it (each node's policy
        must accept that agreement for the querier). `groups`: the PSI groups allowed,
        preferred first (signed); the coordinator picks the first that every party serves."""
        query_id = query_id or str(uuid.uuid4())
        self._check_agreement(agreement)
        request = coordinator_pb2.OverlapRequest(
            query_id=query_id, parties=list(parties), id_type=id_type, psi_groups=list(groups)
        )
        if self.signer is not None:
            request.signed.CopyFrom(
                self.signer.sign(
                    query_id, "overlap", parties, id_type, agreement=agreement, groups=groups
                )
            )
        try:
            with self._watching(query_id, on_progress, timeout):
                response = self._stub.RunOverlap(request, timeout=timeout)
        except grpc.RpcError as error:
            raise self._failure(error) from None
        return codec.overlap_from_proto(response)

    def profile(
        self,
        querier: str,
        owners: Sequence[str],
        attributes: Sequence[str],
        id_type: str = "email",
        query_id: str = "",
        timeout: float = 900.0,
        on_progress: ProgressCallback | None = None,
        audience: str = "shared",
        agreement: str = "",
        segment: Segment | None = None,
        groups: Sequence[str] = DEFAULT_GROUPS,
    ) -> ProfileResult:
        """Who the shared audience is: bins and numeric statistics per owner and combined.
        `audience`: `prospects` profiles the owners' members the querier lacks, `base` their
        whole base (each owner's policy must allow it for the querier). `segment`: only the
        querier's members whose column holds a value (a campaign group; signed, so it needs a
        signer).

        `on_progress`, `agreement`, `groups`: as for `overlap`."""
        query_id = query_id or str(uuid.uuid4())
        self._check_agreement(agreement)
        request = coordinator_pb2.ProfileRequest(
            query_id=query_id,
            querier=querier,
            owners=list(owners),
            attributes=list(attributes),
            id_type=id_type,
            audience=audience,
            psi_groups=list(groups),
        )
        if segment is not None and self.signer is None:
            raise QueryError(
                "INVALID_ARGUMENT",
                f"a profile of part of the list ({segment.column} = {segment.value!r}) is "
                "signed by the querier: give the client a signer (--signing-key)",
            )
        if self.signer is not None:
            if self.signer.party != querier:
                raise QueryError(
                    "INVALID_ARGUMENT",
                    f"this client signs as {self.signer.party!r}, not as the querier {querier!r}",
                )
            request.signed.CopyFrom(
                self.signer.sign(
                    query_id,
                    "profile",
                    [querier, *owners],
                    id_type,
                    owners,
                    attributes,
                    audience,
                    agreement,
                    segment,
                    groups,
                )
            )
        try:
            with self._watching(query_id, on_progress, timeout):
                response = self._stub.RunProfile(request, timeout=timeout)
        except grpc.RpcError as error:
            raise self._failure(error) from None
        result = codec.profile_from_proto(response, tuple(owners), tuple(attributes))
        return replace(result, audience=audience)

    def lift(
        self,
        querier: str,
        owners: Sequence[str],
        outcomes: Sequence[str],
        column: str = "group",
        exposed: str = "exposed",
        holdout: str = "holdout",
        id_type: str = "email",
        timeout: float = 900.0,
    ) -> CampaignLift:
        """Campaign lift (client.lift): the owners' numeric `outcomes` profiled for the
        querier's members whose `column` is `exposed`, then for those whose `column` is
        `holdout` (two signed profile queries, each under the owners' policies and budgets);
        `.to_frame()` gives the lift per owner and outcome with 95% intervals."""
        answers = [
            self.profile(
                querier, owners, outcomes, id_type, timeout=timeout, segment=Segment(column, g)
            )
            for g in (exposed, holdout)
        ]
        return CampaignLift(column, exposed, holdout, tuple(outcomes), *answers)

    def watch(self, query_id: str, timeout: float = 900.0) -> Iterator[QueryProgress]:
        """Progress updates of the query `query_id` (running, or about to start) until it
        finishes; QueryError NOT_FOUND if no such query starts within a few seconds."""
        call = self._stub.WatchQuery(
            coordinator_pb2.WatchQueryRequest(query_id=query_id), timeout=timeout
        )
        try:
            for message in call:
                yield progress_from_proto(message)
        except grpc.RpcError as error:
            raise self._failure(error) from None
        finally:
            call.cancel()

    @contextlib.contextmanager
    def _watching(
        self, query_id: str, on_progress: ProgressCallback | None, timeout: float
    ) -> Iterator[None]:
        """Watch the query's progress in a thread while the body runs the query."""
        if on_progress is None:
            yield
            return
        call = self._stub.WatchQuery(
            coordinator_pb2.WatchQueryRequest(query_id=query_id), timeout=timeout
        )

        def pump() -> None:
            try:
                for message in call:
                    on_progress(progress_from_proto(message))
            except grpc.RpcError:
                pass  # cancelled when the query returned, or the query never started
            except Exception:
                log.exception("on_progress failed; progress of %s no longer shown", query_id)
                call.cancel()

        watcher = threading.Thread(target=pump, name=f"watch-{query_id}", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            watcher.join(timeout=1.0)  # the finished update follows the answer at once
            call.cancel()
            watcher.join(timeout=1.0)

    def close(self) -> None:
        self._channel.close()
