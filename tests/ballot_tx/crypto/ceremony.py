"""Run a whole key ceremony in memory (shared by trustee and tally tests)."""

from __future__ import annotations

from dataclasses import dataclass

from ballot_tx.crypto import trustees as tr
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import Manifest

from .helpers import trustee_keys


@dataclass
class Ceremony:
    manifest: Manifest
    keys: list[KeyPair]
    coeffs: dict[int, tuple[int, ...]]
    commitments: tuple[tr.TrusteeCommitment, ...]
    shares: dict[int, int]  # trustee index -> combined secret share x_j

    @property
    def key(self) -> bytes:
        return tr.joint_key(self.commitments)

    @property
    def secret(self) -> int:
        """x = sum of constant terms (tests only: no party ever computes this)."""
        return sum(c[0] for c in self.coeffs.values()) % (2**252 + 27742317777372353535851937790883648493)


def run(m: Manifest) -> Ceremony:
    n = len(m.trustees)
    keys = trustee_keys(n)
    coeffs = {i: tr.polynomial(m, i, keys[i - 1]) for i in range(1, n + 1)}
    commits = {i: tr.make_commitment(m, i, coeffs[i]) for i in coeffs}
    boxes = [s for i in coeffs for s in tr.make_shares(m, i, keys[i - 1], coeffs[i], commits[i])]
    q = tr.qualified(m, commits.values())
    received: dict[int, dict[int, int]] = {j: {} for j in coeffs}
    for b in boxes:
        received[b.recipient][b.sender] = tr.open_share(m, keys[b.recipient - 1], commits[b.sender], b)
    shares = {j: tr.combined_share(m, j, coeffs[j], received[j], q) for j in coeffs}
    return Ceremony(m, keys, coeffs, q, shares)
