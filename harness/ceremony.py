"""The key ceremony and the tally's decryption as honest trustees run them, in one place,
for the demo, the tests and the benchmarks.

Every trustee derives its polynomial from its key, commits, deals an encrypted share to
every other trustee, opens the shares addressed to it and combines them into its secret
share; nobody complains, so every trustee is qualified. After close, chosen trustees make
their decryption shares of the tally. The real ceremony, step by step and with
complaints, is ``ballotchain trustee ceremony`` (``cli/trustee_cmd.py``); this is the one
offline stand-in for it (harness/scenario, harness/webpoll, harness/txgen and the
benchmarks each wrote it out before). Every step is deterministic (the polynomials come
from the trustees' keys, the share nonces from the commitments), so the chain vectors
built on it stay byte-identical.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ballot_tx.crypto import decryption
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as tr
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.tx import (
    TrusteeAcknowledge,
    TrusteeCommit,
    TrusteeShares,
    TxBody,
    acknowledgement,
)


@dataclass(frozen=True)
class HonestCeremony:
    """What each trustee of one election holds and posts, by trustee index (from 1)."""

    manifest: Manifest
    coefficients: dict[int, tuple[int, ...]]
    commitments: dict[int, tr.TrusteeCommitment]
    #: dealer -> its encrypted shares, one for every other trustee
    dealt: dict[int, tuple[tr.EncryptedShare, ...]]
    #: trustee -> its secret share of the election key (what it decrypts with)
    secret_shares: dict[int, int]

    @property
    def eid(self) -> bytes:
        return election_id(self.manifest)

    @property
    def qualified(self) -> list[tr.TrusteeCommitment]:
        """Every trustee's commitment, in index order (nobody was disqualified)."""
        return [self.commitments[i] for i in sorted(self.commitments)]

    def commit_bodies(self) -> dict[int, TrusteeCommit]:
        return {i: TrusteeCommit(self.eid, c) for i, c in self.commitments.items()}

    def share_bodies(self) -> dict[int, TrusteeShares]:
        return {i: TrusteeShares(self.eid, shares) for i, shares in self.dealt.items()}

    def acknowledgement_bodies(self) -> dict[int, TrusteeAcknowledge]:
        """Each trustee's acknowledgement of every other dealer's shares."""
        posted = self.share_bodies()
        return {j: acknowledgement(self.eid, j, posted) for j in sorted(self.dealt)}

    def postings(self) -> list[tuple[str, dict[int, TxBody]]]:
        """What the trustees post, step by step (each committed before the next is sent):
        the commitments, the shares, the acknowledgements; by trustee index."""
        return [("commit", dict(self.commit_bodies())), ("shares", dict(self.share_bodies())),
                ("acknowledge", dict(self.acknowledgement_bodies()))]

    def decryption_shares(self, tally: tally_crypto.EncryptedTally,
                          trustees: Iterable[int]) -> list[decryption.DecryptionShare]:
        """The decryption shares (with proofs) of ``trustees`` for the final tally."""
        return [decryption.make_decryption_share(self.manifest, tally, j, self.secret_shares[j])
                for j in trustees]


def honest_ceremony(m: Manifest, trustees: Sequence[KeyPair]) -> HonestCeremony:
    """Run the whole key ceremony of ``m`` offline; ``trustees[i - 1]`` is trustee i's key."""
    coeffs = {i: tuple(tr.polynomial(m, i, k)) for i, k in enumerate(trustees, start=1)}
    coms = {i: tr.make_commitment(m, i, coeffs[i]) for i in coeffs}
    dealt = {i: tr.make_shares(m, i, trustees[i - 1], coeffs[i], coms[i]) for i in coeffs}
    qualified = [coms[i] for i in sorted(coms)]
    secret: dict[int, int] = {}
    for j, keys in enumerate(trustees, start=1):
        received = {share.sender: tr.open_share(m, keys, coms[share.sender], share)
                    for i in coeffs for share in dealt[i] if share.recipient == j}
        secret[j] = tr.combined_share(m, j, coeffs[j], received, qualified)
    return HonestCeremony(m, coeffs, coms, dealt, secret)
