"""The work a verification worker does: pure checks of signatures and ballot proofs.

``verify_txs`` runs in a worker process, of the node's pool (``node.verify_pool``) or
of the audit's read-ahead (``node.verify_ahead``), and is a pure function of bytes;
``Refusals`` replays a worker's refusals on the loop. Kept apart from the pool so that
what a verdict means can be read, and reused by both pools, without the node pool's
scheduling.

The work item is a pure function of bytes, ``verify_txs(chain_id, elections,
raws)``: the chain id, each open election's manifest bytes and joint key (read
from the tip state by the loop), and the transactions. It returns verdicts under
the keys of ``ballot_tx.checks`` (``signature_key(h, chain_id)``,
``ballot_key(h, joint_key)``), which name every input the check read, so a
verdict from a worker is only ever used where the same check on the same inputs
would be run (the committed-state rule of issue 11): a stale election snapshot
can only cause a key miss, and a miss only costs an inline check.

* **Positive verdicts** are fed into the ledger's ``MemoChecker``; admission,
  the proposer's ``select_txs`` and ``Ledger.validate`` then recall them.
* **Refusals** are kept only for the admission check that asked for them
  (``Refusals``): the stateful rules run on the loop in their usual order, and
  when they reach the refused check they raise the worker's error, so a bad
  ballot is refused with the same code as inline, without a second verification
  on the loop. Refusals are never memoised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ballot_tx.block import tx_hash
from ballot_tx.checks import Checker, MemoChecker, ballot_key, signature_key
from ballot_tx.codec import decode
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import decryption, point_sums
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.errors import BallotchainError, ErrorCode, TxError
from ballot_tx.manifest import Manifest
from ballot_tx.state.records import manifest_key
from ballot_tx.state.snapshot import State
from ballot_tx.tx import CastBallot, SpoilBallot, Tx, check_signature, decode_tx

#: election id -> (canonical manifest bytes, joint key): what a ballot's proofs read.
Elections = dict[bytes, tuple[bytes, bytes]]


def open_elections(state: State) -> Elections:
    """Each open election's manifest bytes and joint key in ``state``: what the ballots of
    the next block (or the next admissions) are checked against."""
    out: Elections = {}
    for eid in state.open_elections():
        st = state.election(eid)
        mbytes = state.get(manifest_key(eid))
        if st is not None and st.joint_key is not None and mbytes is not None:
            out[eid] = (mbytes, st.joint_key)
    return out


@dataclass(frozen=True)
class Verdicts:
    """What a worker found: keys of checks that passed, (key, code, message) of refusals,
    and for each ballot that passed its points' decoded forms (``decoded``: the points,
    their forms; see ``point_sums.export_decoded``), which the running tally then copies
    instead of decoding."""

    ok: tuple[bytes, ...] = ()
    refused: tuple[tuple[bytes, str, str], ...] = ()
    decoded: tuple[tuple[tuple[bytes, ...], bytes], ...] = ()

    @classmethod
    def merged(cls, parts: Sequence[Verdicts]) -> Verdicts:
        """The verdicts of several worker calls as one."""
        return cls(tuple(k for v in parts for k in v.ok), tuple(x for v in parts for x in v.refused),
                   tuple(d for v in parts for d in v.decoded))

    def record(self, checker: MemoChecker) -> None:
        """Record the positive verdicts in ``checker`` and the decoded points (once per
        worker call: the node's pool does it for every batch, see ``VerifyPool``)."""
        for k in self.ok:
            checker.add(k)
        for points, forms in self.decoded:
            point_sums.remember_decoded(points, forms)

    def refusals(self) -> dict[bytes, tuple[str, str]]:
        """The refusals by key, for the admission checks that asked (``Refusals``)."""
        return {k: (code, msg) for k, code, msg in self.refused}

    def absorb(self, checker: MemoChecker) -> dict[bytes, tuple[str, str]]:
        """``record`` into ``checker``, then the refusals by key."""
        self.record(checker)
        return self.refusals()


# --- the work item (runs in a worker; pure) ------------------------------------------

_MANIFESTS: dict[bytes, Manifest] = {}


def _manifest(data: bytes) -> Manifest:
    m = _MANIFESTS.get(data)
    if m is None:
        if len(_MANIFESTS) > 64:
            _MANIFESTS.clear()
        m = _MANIFESTS[data] = decode(Manifest, data)
    return m


def verify_txs(chain_id: bytes, elections: Elections, raws: Sequence[bytes]) -> Verdicts:
    """Check each transaction's signature and, for a ballot or spoil of an election in
    ``elections``, its proofs. A transaction that does not decode, or a check that fails
    with anything but a ``BallotchainError``, gets no verdict: the inline check names it.
    A cast ballot that passes comes with its points' decoded forms (the point checks
    decode them anyway, with decodes shared)."""
    with point_sums.sharing_decodes(keep=True):
        return _verify_txs(chain_id, elections, raws)


def _verify_txs(chain_id: bytes, elections: Elections, raws: Sequence[bytes]) -> Verdicts:
    ok: list[bytes] = []
    refused: list[tuple[bytes, str, str]] = []
    decoded: list[tuple[tuple[bytes, ...], bytes]] = []
    for raw in raws:
        try:
            tx = decode_tx(raw)
        except BallotchainError:
            continue
        h = tx_hash(raw)
        sk = signature_key(h, chain_id)
        try:
            check_signature(tx, chain_id, raw)
        except BallotchainError as e:
            refused.append((sk, str(e.code), e.message))
            continue
        except Exception:  # noqa: BLE001 - left to the inline check, which behaves as before
            continue
        ok.append(sk)
        body = tx.body
        if not isinstance(body, CastBallot | SpoilBallot) or body.election_id not in elections:
            continue
        mbytes, joint = elections[body.election_id]
        bk = ballot_key(h, joint)
        try:
            m = _manifest(mbytes)
            if isinstance(body, CastBallot):
                if body.ballot.election_id != body.election_id:
                    continue  # a rule before the proofs refuses it
                ballot_crypto.verify_ballot(m, joint, tx.signer, body.ballot)
                points = ballot_crypto.ballot_points(body.ballot)
                forms = point_sums.export_decoded(points)
                if forms is not None:
                    decoded.append((points, forms))
            else:
                ballot_crypto.verify_spoiled(m, joint, tx.signer, body.ballot, body.secrets)
        except BallotchainError as e:
            refused.append((bk, str(e.code), e.message))
            continue
        except Exception:  # noqa: BLE001
            continue
        ok.append(bk)
    return Verdicts(tuple(ok), tuple(refused), tuple(decoded))


# --- refusals for one admission check ------------------------------------------------


class Refusals(Checker):
    """A checker for one admission: raises a worker's refusal where the rules reach that
    exact check, and otherwise asks ``inner`` (the ledger's memoising checker)."""

    def __init__(self, inner: MemoChecker, refused: dict[bytes, tuple[str, str]]) -> None:
        self.inner = inner
        self.refused = refused

    def _raise_if_refused(self, key: bytes) -> None:
        r = self.refused.get(key)
        if r is not None:
            raise TxError(ErrorCode(r[0]), r[1])

    def signature(self, tx_hash: bytes, tx: Tx, chain_id: bytes, raw: bytes | None) -> None:
        self._raise_if_refused(signature_key(tx_hash, chain_id))
        self.inner.signature(tx_hash, tx, chain_id, raw)

    def commitment(self, tx_hash: bytes, manifest: Manifest,
                   commitment: trustee_crypto.TrusteeCommitment) -> None:
        self.inner.commitment(tx_hash, manifest, commitment)

    def reveal(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitment: trustee_crypto.TrusteeCommitment,
        reveal: trustee_crypto.ShareReveal,
    ) -> None:
        self.inner.reveal(tx_hash, manifest, commitment, reveal)

    def ballot(
        self, tx_hash: bytes, manifest: Manifest, joint_key: bytes, voter: bytes,
        ballot: ballot_crypto.EncryptedBallot,
    ) -> None:
        self._raise_if_refused(ballot_key(tx_hash, joint_key))
        self.inner.ballot(tx_hash, manifest, joint_key, voter, ballot)

    def spoiled(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        joint_key: bytes,
        voter: bytes,
        ballot: ballot_crypto.EncryptedBallot,
        secrets: ballot_crypto.BallotSecrets,
    ) -> None:
        self._raise_if_refused(ballot_key(tx_hash, joint_key))
        self.inner.spoiled(tx_hash, manifest, joint_key, voter, ballot, secrets)

    def decryption_share(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitments: Sequence[trustee_crypto.TrusteeCommitment],
        tally: tally_crypto.EncryptedTally,
        share: decryption.DecryptionShare,
    ) -> None:
        self.inner.decryption_share(tx_hash, manifest, commitments, tally, share)

    def result(
        self,
        tx_hash: bytes,
        manifest: Manifest,
        commitments: Sequence[trustee_crypto.TrusteeCommitment],
        tally: tally_crypto.EncryptedTally,
        shares: Sequence[decryption.DecryptionShare],
        result: decryption.TallyResult,
    ) -> None:
        self.inner.result(tx_hash, manifest, commitments, tally, shares, result)
