"""Attacks by a deviating coordinator or partner against real nodes over mutual TLS (issue 12)."""
