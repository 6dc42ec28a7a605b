"""Cryptographic protocols, pure: ECDH-PSI (X25519, ristretto255), Paillier aggregation, noise."""
