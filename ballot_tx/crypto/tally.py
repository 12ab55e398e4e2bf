"""The encrypted tally and counting into it.

Tally: slot by slot (the ciphertext layout of a ballot), the sum of every counted
ballot's ciphertexts; ``ballots`` counts them. Re-voting replaces a voter's ballot:
``subtract_ballot(old)`` then ``add_ballot(new)``. Each slot then encrypts a count in
``[0, ballots]``. Only the sum is ever decrypted, and that is a separate concept with its
own wire objects and proofs: ``decryption.py`` (docs/crypto.md, "Decryption").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

from ballot_tx.codec import U32, Bytes32, MaxLen, Wire
from ballot_tx.crypto import elgamal
from ballot_tx.crypto.ballot import EncryptedBallot, ballot_points
from ballot_tx.crypto.elgamal import Ciphertext
from ballot_tx.crypto.point_sums import PointSums
from ballot_tx.errors import CryptoError, ErrorCode
from ballot_tx.manifest import (
    MAX_BALLOT_CIPHERTEXTS,
    MAX_CONTESTS,
    Manifest,
    contest_width,
    election_id,
)

Slots = Annotated[tuple[Ciphertext, ...], MaxLen(MAX_BALLOT_CIPHERTEXTS)]


@dataclass(frozen=True)
class EncryptedTally(Wire):
    """Per contest, per slot: the sum of the counted ballots' ciphertexts."""

    KIND: ClassVar[str] = "encrypted-tally"
    election_id: Bytes32
    ballots: U32
    contests: Annotated[tuple[Slots, ...], MaxLen(MAX_CONTESTS)]


# --- aggregation --------------------------------------------------------------------


def empty_tally(manifest: Manifest) -> EncryptedTally:
    """The tally of no ballots: every slot is ``Enc(0; 0) = (identity, identity)``."""
    return EncryptedTally(
        election_id(manifest), 0, tuple((elgamal.ZERO,) * contest_width(c) for c in manifest.contests)
    )


def _check_fits(tally: EncryptedTally, ballot: EncryptedBallot) -> None:
    _fits(tally.election_id, [len(s) for s in tally.contests], ballot)


def _fits(eid: bytes, widths: list[int], ballot: EncryptedBallot) -> None:
    """A ballot can be counted into (or out of) a tally of election ``eid`` with these widths."""
    if ballot.election_id != eid:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_ELECTION, "the ballot is for another election")
    if widths != [len(c.ciphertexts) for c in ballot.contests]:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, "the ballot does not fit the tally")


def add_ballot(tally: EncryptedTally, ballot: EncryptedBallot) -> EncryptedTally:
    """Count a (verified) ballot."""
    _check_fits(tally, ballot)
    return EncryptedTally(
        tally.election_id,
        tally.ballots + 1,
        tuple(
            tuple(elgamal.add(a, b) for a, b in zip(slots, ec.ciphertexts, strict=True))
            for slots, ec in zip(tally.contests, ballot.contests, strict=True)
        ),
    )


def subtract_ballot(tally: EncryptedTally, ballot: EncryptedBallot) -> EncryptedTally:
    """Uncount a previously counted ballot (a voter's replaced ballot when re-voting)."""
    _check_fits(tally, ballot)
    if tally.ballots == 0:
        raise CryptoError(ErrorCode.CRYPTO_BAD_TALLY, "cannot remove a ballot from an empty tally")
    return EncryptedTally(
        tally.election_id,
        tally.ballots - 1,
        tuple(
            tuple(elgamal.sub(a, b) for a, b in zip(slots, ec.ciphertexts, strict=True))
            for slots, ec in zip(tally.contests, ballot.contests, strict=True)
        ),
    )


class RunningTally:
    """An ``EncryptedTally`` being counted into, its sums held decoded (``point_sums``).

    ``add_ballot`` / ``subtract_ballot`` decode the tally, add and encode it again for
    every ballot: three inverse square roots per point. A block counts many ballots into
    one tally and only the tally at its end is stored, so the state keeps one
    ``RunningTally`` per election while it executes a block: one decode per ballot point,
    one encode per slot when the record is written. Same checks, same errors, same
    bytes as ``add_ballot`` / ``subtract_ballot`` (tests/ballot_tx/crypto/test_tally.py)."""

    def __init__(self, start: EncryptedTally) -> None:
        self.election_id = start.election_id
        self.ballots = start.ballots
        self.widths = [len(slots) for slots in start.contests]
        flat = [p for slots in start.contests for ct in slots for p in (ct.alpha, ct.beta)]
        self._sums = PointSums(len(flat), flat)
        self._encoded: EncryptedTally | None = start

    def _apply(
        self, op: Callable[[int, bytes], None], undo: Callable[[int, bytes], None], ballot: EncryptedBallot
    ) -> None:
        """``op`` every point of ``ballot`` into its slot; all or nothing (an invalid point,
        which verified ballots never hold, undoes the points already done)."""
        points = ballot_points(ballot)
        for i, p in enumerate(points):
            try:
                op(i, p)
            except CryptoError:
                for j in range(i):
                    undo(j, points[j])
                raise

    def add(self, ballot: EncryptedBallot) -> None:
        """Count a (verified) ballot."""
        _fits(self.election_id, self.widths, ballot)
        self._encoded = None
        self._apply(self._sums.add, self._sums.sub, ballot)
        self.ballots += 1

    def subtract(self, ballot: EncryptedBallot) -> None:
        """Uncount a previously counted ballot."""
        _fits(self.election_id, self.widths, ballot)
        if self.ballots == 0:
            raise CryptoError(ErrorCode.CRYPTO_BAD_TALLY, "cannot remove a ballot from an empty tally")
        self._encoded = None
        self._apply(self._sums.sub, self._sums.add, ballot)
        self.ballots -= 1

    def tally(self) -> EncryptedTally:
        """The tally so far, encoded (kept until the next change)."""
        if self._encoded is None:
            flat = self._sums.encoded()
            contests = []
            i = 0
            for w in self.widths:
                contests.append(tuple(Ciphertext(flat[i + 2 * k], flat[i + 2 * k + 1]) for k in range(w)))
                i += 2 * w
            self._encoded = EncryptedTally(self.election_id, self.ballots, tuple(contests))
        return self._encoded


def aggregate(manifest: Manifest, ballots: Iterable[EncryptedBallot]) -> EncryptedTally:
    """The tally of a list of (verified) ballots, one per voter (the last cast counts):
    counted into a ``RunningTally`` from the empty tally (one decode per point, one encode
    per slot at the end)."""
    eid = election_id(manifest)
    widths = [contest_width(c) for c in manifest.contests]
    running = RunningTally(empty_tally(manifest))
    for b in ballots:
        if b.election_id != eid or [len(c.ciphertexts) for c in b.contests] != widths:
            raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, "a ballot does not fit the election")
        running.add(b)
    return running.tally()


def merge_tallies(manifest: Manifest, parts: Sequence[EncryptedTally]) -> EncryptedTally:
    """The tally of the union of disjoint ballot sets, from their partial tallies: the sum
    is associative, so an auditor can ``aggregate`` chunks on all cores and merge here."""
    total = empty_tally(manifest)
    for t in parts:
        if t.election_id != total.election_id or [len(s) for s in t.contests] != [
            len(s) for s in total.contests
        ]:
            raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, "a partial tally is for another election")
        total = EncryptedTally(
            total.election_id,
            total.ballots + t.ballots,
            tuple(
                tuple(elgamal.add(a, b) for a, b in zip(x, y, strict=True))
                for x, y in zip(total.contests, t.contests, strict=True)
            ),
        )
    return total


def check_tally(manifest: Manifest, tally: EncryptedTally) -> None:
    """Shape and points of a tally from the wire (identity allowed: a slot may sum to it)."""
    if tally.election_id != election_id(manifest):
        raise CryptoError(ErrorCode.CRYPTO_WRONG_ELECTION, "the tally is for another election")
    if [len(s) for s in tally.contests] != [contest_width(c) for c in manifest.contests]:
        raise CryptoError(ErrorCode.CRYPTO_WRONG_SHAPE, "the tally does not match the manifest")
    for ci, slots in enumerate(tally.contests):
        for k, ct in enumerate(slots):
            elgamal.check(ct, f"tally contest {ci} slot {k}", allow_identity=True)
