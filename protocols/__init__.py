"""Cryptographic protocols, pure: ECDH-PSI over ristretto255, Paillier aggregation, noise."""
