"""Ports for local parties are chosen where outgoing connections never land."""

from __future__ import annotations

import socket

import pytest

from gongying import launch
from gongying.launch import LOWEST_PORT, _ephemeral_low, free_port


def test_free_ports_lie_below_the_ephemeral_range_and_can_be_bound() -> None:
    low = _ephemeral_low()
    ports = {free_port() for _ in range(50)}
    assert all(LOWEST_PORT <= port < low for port in ports)
    assert len(ports) > 40  # random, not the same few
    for port in list(ports)[:5]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", port))


def test_a_port_in_use_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    busy, free = free_port(), free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", busy))
        draws = iter([busy, free])
        monkeypatch.setattr(launch._PORT_DRAWS, "randrange", lambda low, high: next(draws))
        assert free_port() == free
