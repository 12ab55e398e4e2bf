"""The cryptographic checks of the transaction rules, and their memoised form.

The rules in ``ballot_tx/state/`` call a ``Checker`` for every signature and proof; the
plain ``Checker`` runs each check every time, so the rules read as the
specification. ``MemoChecker`` is the optimisation, kept outside the rules: it
remembers *positive* verdicts, each under a key made of **every input the check
depends on**, so a verdict is reused only where the same check on the same inputs
would give the same answer, whatever state (committed, proposed or abandoned)
it was first reached in:

=====================  ==================================================================
check                  verdict key (``h`` = transaction hash, covering every signed byte)
=====================  ==================================================================
signature              ``h``, chain id
trustee commitment     ``h`` (the manifest is fixed by the election id in the body)
complaint reveal       ``h``, digest of the dealer's commitment it is checked against
cast / spoiled ballot  ``h``, the election's joint key
decryption share       ``h``, digest of the qualified commitments, digest of the tally
published result       ``h``, digests of commitments, tally and decryption shares
=====================  ==================================================================

Why not "tx hash -> verified": a Byzantine primary can propose a block that opens an
election under one joint key with a ballot valid under it, then let that block be
abandoned; a later block opens the election under another key. A hash-only verdict
would admit the ballot unchecked under the second key (issue 11, attack 1).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from ballot_tx.codec import encode
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import decryption
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.manifest import Manifest
from ballot_tx.tx import Tx, check_signature


def _inputs_digest(parts: Iterable[bytes]) -> bytes:
    """A digest of the canonical encodings a check reads (length-prefixed, so unambiguous)."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.digest()


class Checker:
    """Runs every check, every time. Each method raises ``BallotchainError`` on failure;
    ``tx_hash`` is unused here and lets a memoising subclass name the verdict."""

    def signature(self, tx_hash: bytes, tx: Tx, chain_id: bytes, raw: bytes | None) -> None:
        check_signature(tx, chain_id, raw)

    def commitment(self, tx_hash: bytes, manifest: Manifest, commitment: trustee_crypto.TrusteeCommitment) -> None:
        trustee_crypto.verify_commitment(manifest, commitment)

    def reveal(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitment: trustee_crypto.TrusteeCommitment,
        reveal: trustee_crypto.ShareReveal,
    ) -> None:
        trustee_crypto.verify_reveal(manifest, commitment, reveal)

    def ballot(
        self, tx_hash: bytes, manifest: Manifest, joint_key: bytes, voter: bytes, ballot: ballot_crypto.EncryptedBallot
    ) -> None:
        ballot_crypto.verify_ballot(manifest, joint_key, voter, ballot)

    def spoiled(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        joint_key: bytes,
        voter: bytes,
        ballot: ballot_crypto.EncryptedBallot,
        secrets: ballot_crypto.BallotSecrets,
    ) -> None:
        ballot_crypto.verify_spoiled(manifest, joint_key, voter, ballot, secrets)

    def decryption_share(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitments: Sequence[trustee_crypto.TrusteeCommitment],
        tally: tally_crypto.EncryptedTally,
        share: decryption.DecryptionShare,
    ) -> None:
        decryption.verify_decryption_share(manifest, commitments, tally, share)

    def result(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitments: Sequence[trustee_crypto.TrusteeCommitment],
        tally: tally_crypto.EncryptedTally,
        shares: Sequence[decryption.DecryptionShare],
        result: decryption.TallyResult,
    ) -> None:
        decryption.verify_result(manifest, commitments, tally, shares, result)


def signature_key(tx_hash: bytes, chain_id: bytes) -> bytes:
    return b"s" + tx_hash + chain_id


def ballot_key(tx_hash: bytes, joint_key: bytes) -> bytes:
    """The verdict key of a cast or spoiled ballot's proofs (see the module table)."""
    return b"b" + tx_hash + joint_key


class MemoChecker(Checker):
    """A ``Checker`` that remembers positive verdicts by their full inputs (bounded, LRU).

    Valid for any state: a key names everything its check reads, so a remembered
    verdict is exactly the verdict the check would return now. Failures are never
    remembered (a later, corrected state must be able to pass).
    """

    def __init__(self, max_entries: int = 400_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, key: object) -> bool:
        return key in self._seen

    def add(self, key: bytes) -> None:
        """Record a positive verdict reached elsewhere (e.g. ``node.verify_pool.verify_txs``
        in a worker process), under a key made with ``signature_key`` / ``ballot_key``."""
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def _known(self, key: bytes) -> bool:
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        return False

    def _once(self, key: bytes, check: Callable[[], None]) -> None:
        """Run ``check`` unless ``key`` holds a positive verdict; remember it if it passes."""
        if not self._known(key):
            check()
            self.add(key)

    def signature(self, tx_hash: bytes, tx: Tx, chain_id: bytes, raw: bytes | None) -> None:
        self._once(signature_key(tx_hash, chain_id), lambda: Checker.signature(self, tx_hash, tx, chain_id, raw))

    def commitment(self, tx_hash: bytes, manifest: Manifest, commitment: trustee_crypto.TrusteeCommitment) -> None:
        self._once(b"c" + tx_hash, lambda: Checker.commitment(self, tx_hash, manifest, commitment))

    def reveal(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitment: trustee_crypto.TrusteeCommitment,
        reveal: trustee_crypto.ShareReveal,
    ) -> None:
        key = b"r" + tx_hash + _inputs_digest([encode(commitment)])
        self._once(key, lambda: Checker.reveal(self, tx_hash, manifest, commitment, reveal))

    def ballot(
        self, tx_hash: bytes, manifest: Manifest, joint_key: bytes, voter: bytes, ballot: ballot_crypto.EncryptedBallot
    ) -> None:
        self._once(ballot_key(tx_hash, joint_key), lambda: Checker.ballot(self, tx_hash, manifest, joint_key, voter, ballot))

    def spoiled(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        joint_key: bytes,
        voter: bytes,
        ballot: ballot_crypto.EncryptedBallot,
        secrets: ballot_crypto.BallotSecrets,
    ) -> None:
        self._once(
            ballot_key(tx_hash, joint_key),
            lambda: Checker.spoiled(self, tx_hash, manifest, joint_key, voter, ballot, secrets),
        )

    def decryption_share(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitments: Sequence[trustee_crypto.TrusteeCommitment],
        tally: tally_crypto.EncryptedTally,
        share: decryption.DecryptionShare,
    ) -> None:
        key = b"d" + tx_hash + _inputs_digest([*(encode(commitment) for commitment in commitments), b"|", encode(tally)])
        self._once(key, lambda: Checker.decryption_share(self, tx_hash, manifest, commitments, tally, share))

    def result(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitments: Sequence[trustee_crypto.TrusteeCommitment],
        tally: tally_crypto.EncryptedTally,
        shares: Sequence[decryption.DecryptionShare],
        result: decryption.TallyResult,
    ) -> None:
        parts = [*(encode(c) for c in commitments), b"|", encode(tally), b"|", *(encode(s) for s in shares)]
        key = b"p" + tx_hash + _inputs_digest(parts)
        self._once(key, lambda: Checker.result(self, tx_hash, manifest, commitments, tally, shares, result))
