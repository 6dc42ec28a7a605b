"""Identities, mutual TLS and signed queries."""
