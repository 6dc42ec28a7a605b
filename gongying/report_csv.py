"""The tables of a report as CSV files in one folder (`gongying report --csv DIR`).

One file per table, raw codes (not display labels) so that a spreadsheet or pandas can join
them: `overlap_regions.csv`, `overlap_pairwise.csv` and `contribution.csv` for an overlap;
`profile.csv` (every released number, long) and `profile_<attribute>.csv` (bins x owners, or
owners x statistics) for a profile. A hidden count is an empty cell; `status` says why.
"""

from __future__ import annotations

from pathlib import Path

from client.frames import pairwise_frame, profile_frames, profile_table, regions_frame
from client.insights import Contribution
from model.results import OverlapResult, ProfileResult


def write_report_tables(
    folder: Path,
    overlap: OverlapResult | None,
    profile: ProfileResult | None,
    contribution: Contribution | None = None,
) -> list[Path]:
    """Write every table of the report into `folder` (created if missing); the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def target(name: str) -> Path:
        path = folder / f"{name}.csv"
        written.append(path)
        return path

    if overlap is not None:
        regions_frame(overlap).to_csv(target("overlap_regions"))
        pairwise_frame(overlap).to_csv(target("overlap_pairwise"))
    if contribution is not None:
        contribution.to_frame().to_csv(target("contribution"))
    if profile is not None:
        profile_table(profile).to_csv(target("profile"), index=False)
        for attribute, frame in profile_frames(profile).items():
            frame.to_csv(target(f"profile_{attribute}"))
    return written
