"""Cryptographic protocols, pure: ECDH-PSI over X25519 or ristretto255, Paillier aggregation, noise."""
