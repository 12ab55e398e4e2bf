"""Ballot cryptography on ristretto255: ElGamal, proofs, ballots, trustees, tally,
decryption of the tally, and its summary.

Pure code (no I/O); randomness only where a caller does not pass a seed. See
docs/crypto.md ("Ballot cryptography") for the equations and encodings.
"""
