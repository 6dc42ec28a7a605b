"""Tests of agreements, settlement statements and the sandbox."""
