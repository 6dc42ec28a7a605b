"""Gongying: privacy-preserving data collaboration between partners."""
