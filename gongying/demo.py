"""`gongying demo`: partners' data, their nodes and a coordinator, queries, the truth."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
from rich.console import Console

from client.sdk import QueryError
from connectors.errors import ConnectorError
from connectors.identifiers import ColumnKind, IdType, NormalisationProfile, normalise
from gongying.demo_configs import ID_COLUMNS, DemoError, DemoLayout, write_configs
from gongying.demo_data import BRAND, RETAILERS, generate_demo_data
from gongying.demo_noise import NoiseCheck, check_overlap, check_profile
from gongying.demo_profile import (
    ATTRIBUTES,
    CATEGORICAL,
    differences,
    profile_truths,
)
from gongying.demo_prospects import prospects_step
from gongying.launch import LaunchError, LocalProcesses
from gongying.oracle import identifier_sets_from_files, overlap_truth
from gongying.progress_view import progress_bars
from gongying.render import print_overlap, print_profile
from gongying.report import write_outputs
from model.results import ProfileResult
from runtime.certs import COORDINATOR


def _user_files(data: Path, id_type: str) -> dict[str, Path]:
    if not data.is_dir():
        raise DemoError(f"--data {data}: not a folder")
    files = sorted(data.glob("*.csv"))
    if len(files) < 2:
        raise DemoError(
            f"--data {data}: need at least two CSV files (one per party), found {len(files)}"
        )
    for path in files:
        header = pd.read_csv(path, nrows=0).columns.tolist()
        if id_type not in header:
            raise DemoError(
                f"{path}: no {id_type!r} column for --id-type {id_type}; "
                f"columns: {', '.join(header)}"
            )
    return {path.stem: path for path in files}


def plaintext_truth(paths: dict[str, Path], id_type: str) -> dict[frozenset[str], int]:
    """Region counts computed directly from the files with pandas and plain sets."""
    profile = NormalisationProfile()
    kind, wanted = ColumnKind(id_type), IdType(id_type)

    def normalised(value: str) -> str | None:
        try:
            return normalise(kind, value, wanted, profile)
        except ConnectorError:
            return None

    return dict(overlap_truth(identifier_sets_from_files(paths, id_type, normalised)).regions)


def _profile_step(
    layout: DemoLayout,
    id_type: str,
    console: Console,
    progress: Console | None = None,
    check: NoiseCheck | None = None,
    lang: str = "en",
) -> tuple[bool, ProfileResult]:
    """Profile the brand's audience at every retailer; compare with the pandas truth: cell by
    cell when exact, or (with `check`) every count within its interval when noised."""
    owners = list(RETAILERS)
    console.print(
        f"profile query: {BRAND}'s audience at {', '.join(owners)} on {', '.join(ATTRIBUTES)}"
    )
    with layout.client() as client, progress_bars(progress, "profile") as on_progress:
        result = client.profile(
            BRAND, owners, list(ATTRIBUTES), id_type=id_type, on_progress=on_progress
        )
    print_profile(result, console, lang)
    truths = profile_truths(layout.paths, BRAND, owners, id_type)
    if check is not None:
        check_profile(result, truths, check)
        return True, result
    found = differences(result, truths)
    for line in found:
        console.print(f"[red]differs from the pandas truth: {line}[/]")
    if not found:
        console.print("[bold green]every released profile cell equals the pandas truth (exact)[/]")
    return not found, result


def _verdict_line(ok: bool, noised: bool) -> str:
    if noised:
        return (
            "[bold green]every released count lies within its noise interval of the plaintext "
            "truth[/]"
            if ok
            else "[bold red]a released count lies outside its noise interval of the truth[/]"
        )
    return (
        "[bold green]the private answer equals the plaintext truth[/]"
        if ok
        else "[bold red]the private answer differs from the plaintext truth[/]"
    )


def run_demo(
    members: int,
    workdir: Path | None,
    data: Path | None,
    id_type: str,
    seed: int,
    console: Console,
    paillier_bits: int = 2048,
    insecure_plaintext: bool = False,
    report: Path | None = None,
    progress: Console | None = None,
    exact: bool = False,
    lang: str = "en",
) -> bool:
    """Run the whole flow; True when the answers agree with the plaintext truth: every
    released count within its noise interval (noised policies, the default), or equal to it
    (`exact`, or plaintext without policies); with a `progress` console, the queries' progress
    bars are drawn on it."""
    if id_type not in ID_COLUMNS:
        raise DemoError(f"--id-type must be one of {', '.join(ID_COLUMNS)}, got {id_type!r}")
    if members < 20:
        raise DemoError(f"--members must be at least 20, got {members}")
    temporary = workdir is None
    root = Path(tempfile.mkdtemp(prefix="gongying-demo-")) if workdir is None else workdir
    root.mkdir(parents=True, exist_ok=True)
    processes = LocalProcesses(root / "logs")
    try:
        if data is not None:
            paths = _user_files(data, id_type)
            console.print(f"using {len(paths)} parties' files from {data}")
        else:
            console.print(
                f"generating synthetic data: {members:,} members per retailer (seed {seed})"
            )
            paths = generate_demo_data(root / "data", members=members, seed=seed).paths
        profiled = data is None
        bits = paillier_bits if profiled else None
        layout = write_configs(root, paths, bits, insecure_plaintext, exact)
        noised = layout.certs is not None and not exact
        check = NoiseCheck() if noised else None
        probe = layout.tls_for(layout.querier)
        console.print(
            f"starting {len(paths)} nodes and a coordinator on loopback, "
            + (
                "PLAINTEXT (--insecure-plaintext)"
                if layout.certs is None
                else f"mutual TLS (certificates in {layout.certs})"
            )
        )
        for party, address in layout.node_addresses.items():
            processes.start(
                party,
                "node",
                root / "configs" / f"{party}.toml",
                address,
                tls=probe,
                server_name=party if probe else None,
            )
        processes.start(
            "coordinator",
            "coordinator",
            root / "configs" / "coordinator.toml",
            layout.coordinator_address,
            tls=probe,
            server_name=COORDINATOR if probe else None,
        )
        parties = list(paths)
        console.print(f"overlap query on {id_type} across {', '.join(parties)}")
        with layout.client() as client, progress_bars(progress, "overlap") as on_progress:
            result = client.overlap(parties, id_type, on_progress=on_progress)
        truth = plaintext_truth(paths, id_type)
        print_overlap(result, console, truth, lang)
        # a hidden count (`<k`, or `suppressed` to protect others) is not compared
        ok = True
        if check is None:
            ok = all(result.region(*sorted(m)) in (n, None) for m, n in truth.items())
        else:
            check_overlap(result, truth, check)
        profile = None
        joint = None
        if profiled:
            profile_ok, profile = _profile_step(layout, id_type, console, progress, check, lang)
            ok = profile_ok and ok

            def audience_profile(owner: str, audience: str) -> ProfileResult:
                with layout.client() as client:
                    return client.profile(
                        BRAND, [owner], list(CATEGORICAL), id_type=id_type, audience=audience
                    )

            governed = layout.certs is not None
            joint = prospects_step(result, audience_profile if governed else None, console, lang)
        if check is not None:
            check.finish()
            for line in check.outside:
                console.print(f"[red]outside its interval: {line}[/]")
            console.print(check.summary())
            ok = ok and not check.outside
        console.print(_verdict_line(ok, check is not None))
        if report is not None:
            source = f"your files in {data}" if data else f"synthetic, seed {seed}"
            try:
                write_outputs(
                    result,
                    profile,
                    report,
                    brand=BRAND if BRAND in parties else parties[0],
                    provenance={
                        "data": source,
                        "release": "noised (epsilon per query set by each owner's policy)"
                        if noised
                        else "exact",
                        "checked against the plaintext truth": "agrees" if ok else "DIFFERS",
                    },
                    joint=joint,
                    lang=lang,
                )
            except OSError as error:
                raise DemoError(f"--report {report}: {error}") from None
            console.print(f"report written to {report}")
        if not temporary:
            console.print(
                f"data and configs kept in {root}; start a party by hand with "
                f"`gongying node serve --config {root / 'configs' / (parties[0] + '.toml')}`"
            )
        return ok
    except (LaunchError, QueryError, ConnectorError) as error:
        raise DemoError(str(error)) from None
    finally:
        processes.stop()
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
