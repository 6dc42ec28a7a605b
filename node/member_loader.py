"""Loading a session's members from the node's source, through the member cache."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from connectors.identifiers import IdType
from connectors.members import LoadTally, load_members
from connectors.opener import open_source
from node.admission import Admission
from node.attributes import attribute_column
from node.config import NodeConfig
from node.governance import NodeGovernance
from node.member_cache import CachedMembers, MemberCache, source_version
from node.segments import check_segment_column, segment_rows
from protocols.profile import Attribute, CategoricalAttribute
from runtime.signing import Segment


@dataclass(frozen=True)
class LoadedMembers:
    """A load for one session, and whether it is the cached one (its points may be kept)."""

    elements: object
    columns: dict[str, list[object]]
    report: LoadTally
    entry: CachedMembers
    cacheable: bool


class MemberLoader:
    """Loads the members a session works on, cached while the source file is unchanged."""

    def __init__(
        self, config: NodeConfig, governance: NodeGovernance, member_cache: MemberCache
    ) -> None:
        self.config = config
        self.governance = governance
        self.member_cache = member_cache
        # cached loads' set fingerprints, by id of the load (while it lives)
        self._fingerprints: dict[int, tuple[weakref.ref[CachedMembers], str]] = {}

    def set_fingerprint(self, admission: Admission, loaded: LoadedMembers) -> str:
        """This node's fingerprint of its set when its own party is the querier (else "");
        kept with a cached load, since it depends on the members only, not on their order."""
        if admission.querier != self.config.party:
            return ""
        if not loaded.cacheable:
            return self.governance.fingerprint(loaded.elements)  # type: ignore[arg-type]
        held = self._fingerprints.get(id(loaded.entry))
        if held is not None and held[0]() is loaded.entry:
            return held[1]
        known = self.governance.fingerprint(loaded.elements)  # type: ignore[arg-type]
        self._fingerprints = {k: v for k, v in self._fingerprints.items() if v[0]() is not None}
        self._fingerprints[id(loaded.entry)] = (weakref.ref(loaded.entry), known)
        return known

    def load(self, wanted: IdType, specs: tuple[Attribute, ...]) -> LoadedMembers:
        """The members for `wanted` with `specs`' columns: from the cache while the file is
        unchanged, else read, normalised and de-duplicated now."""
        column = self.config.column_for(wanted)
        version = source_version(self.config.source)
        key = (
            version,
            column.column,
            column.kind.value,
            wanted.value,
            self.config.normalisation.label(),
            specs,
        )
        if version is not None:
            hit = self.member_cache.get(key)
            if hit is not None:
                return LoadedMembers(hit.elements, hit.columns, hit.report, hit, True)
        table = load_members(
            open_source(self.config.source),
            column.column,
            column.kind,
            wanted,
            self.config.normalisation,
            attributes=[s.name for s in specs],
            chunk_rows=self.config.chunk_rows,
        )
        columns = {
            spec.name: attribute_column(spec, table.attributes[spec.name], table.report.source)
            for spec in specs
        }
        entry = CachedMembers(table.elements, columns, table.report)
        cacheable = version is not None and source_version(self.config.source) == version
        if cacheable:
            self.member_cache.put(key, entry)
        return LoadedMembers(table.elements, columns, table.report, entry, cacheable)

    def load_segment(self, wanted: IdType, segment: Segment) -> LoadedMembers:
        """The querier's members in `segment` (node.segments): its column loaded beside the
        identifiers (cached like any load), then the matching members only, not cached."""
        columns = open_source(self.config.source).columns()
        check_segment_column(columns, segment, self.config.party)
        spec = CategoricalAttribute(segment.column, (segment.value,))
        whole = self.load(wanted, (spec,))
        keep = segment_rows(whole.columns[segment.column], segment, self.config.party)
        elements = whole.elements.take(keep)  # type: ignore[attr-defined]
        entry = CachedMembers(elements, {}, whole.report)
        return LoadedMembers(elements, {}, whole.report, entry, False)
