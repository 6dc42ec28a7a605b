"""Tests for policy, privacy-budget ledger, discrete Laplace noise and release rules."""
