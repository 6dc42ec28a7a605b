"""`gongying node|coordinator check|serve`: start-up checks and serving."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gongying.cli_common import ConfigOption, fail, operator_errors, report_check

if TYPE_CHECKING:
    pass


def node_check(config: ConfigOption) -> None:
    """Check node.toml without serving: keys, files, source, columns, keys, TLS, port, policy."""
    from node.check import check_node

    try:
        problems = check_node(config)
    except operator_errors() as error:
        raise fail(str(error)) from None
    report_check("node config", config, problems)


def node_serve(config: ConfigOption) -> None:
    """Check node.toml (as `node check`), then serve until SIGTERM or Ctrl-C."""
    from node.server import serve_node

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        serve_node(config)
    except operator_errors() as error:
        raise fail(str(error)) from None


def coordinator_check(config: ConfigOption) -> None:
    """Check coordinator.toml without serving: keys, TLS files, signing key, port."""
    from coordinator.check import check_coordinator

    try:
        problems = check_coordinator(config)
    except operator_errors() as error:
        raise fail(str(error)) from None
    report_check("coordinator config", config, problems)


def coordinator_serve(config: ConfigOption) -> None:
    """Check coordinator.toml (as `coordinator check`), then serve until SIGTERM or Ctrl-C."""
    from coordinator.server import serve_coordinator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        serve_coordinator(config)
    except operator_errors() as error:
        raise fail(str(error)) from None
