"""A small in-memory world with elections in every phase, for the rejection tests and vectors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ballot_tx.codec import hash_bytes
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as tr
from ballot_tx.crypto.trustees import TrusteeCommitment
from ballot_tx.eligibility.one_time_code import CommitCodes, code_from_seed, code_keys
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import Manifest, Selections, election_id
from ballot_tx.tx import (
    CastBallot,
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    TrusteeCommit,
    TrusteeShares,
    Tx,
    TxBody,
    sign_tx,
)
from node.localchain import LocalChain
from node.scenario import demo_manifest
from tests.chain.helpers import ADMIN, REGISTRAR, TRUSTEES, VALIDATORS, kp, make_genesis

HOUR = 3_600_000


@dataclass
class Election:
    m: Manifest
    eid: bytes
    coeffs: dict[int, tuple[int, ...]] = field(default_factory=dict)
    coms: dict[int, TrusteeCommitment] = field(default_factory=dict)
    secret: dict[int, int] = field(default_factory=dict)
    voters: list[KeyPair] = field(default_factory=list)
    salt: bytes = b""

    @property
    def key(self) -> bytes:
        return tr.joint_key([self.coms[i] for i in sorted(self.coms)])


class World:
    def __init__(self) -> None:
        self.genesis = make_genesis()
        self.chain = LocalChain(self.genesis, VALIDATORS)
        self.cid = self.chain.chain_id
        self.n = 0

    def tx(self, keys: KeyPair, body: TxBody, expires: int | None = None) -> Tx:
        t = self.chain.next_time()
        return sign_tx(keys, self.cid, body, t + HOUR if expires is None else expires)

    def run(self, *txs: Tx) -> None:
        self.chain.run(list(txs))

    def manifest(self, eligibility: str = "registered-key", revoting: bool | None = None,
                 start_offset: int = 0, hours: int = 48) -> Manifest:
        self.n += 1
        now = self.chain.next_time()
        m = demo_manifest(TRUSTEES, now + start_offset, now + hours * HOUR, eligibility,
                          rating=False, name=f"e{self.n}")
        if revoting is not None:
            m = dataclasses.replace(m, revoting=revoting)
        return m

    def create(self, m: Manifest) -> Election:
        self.run(self.tx(ADMIN, CreateElection(m)))
        return Election(m, election_id(m))

    def ceremony(self, e: Election) -> None:
        for i, k in enumerate(TRUSTEES, start=1):
            e.coeffs[i] = tr.polynomial(e.m, i, k)
            e.coms[i] = tr.make_commitment(e.m, i, e.coeffs[i])
        self.run(*(self.tx(TRUSTEES[i - 1], TrusteeCommit(e.eid, e.coms[i])) for i in e.coms))
        self.run(*(self.tx(TRUSTEES[i - 1], TrusteeShares(e.eid, self.shares(e, i))) for i in e.coms))
        coms = [e.coms[i] for i in sorted(e.coms)]
        for j in e.coms:
            received = {i: tr.evaluate(e.coeffs[i], j) for i in e.coms if i != j}
            e.secret[j] = tr.combined_share(e.m, j, e.coeffs[j], received, coms)

    def shares(self, e: Election, i: int) -> tuple[tr.EncryptedShare, ...]:
        return tr.make_shares(e.m, i, TRUSTEES[i - 1], e.coeffs[i], e.coms[i])

    def register(self, e: Election, n: int) -> None:
        if e.m.eligibility == "registered-key":
            e.voters = [kp(f"voter-{e.m.name}", i) for i in range(n)]
            entries = tuple(KeyEntry(v.ed25519_public, self.tag(e, i)) for i, v in enumerate(e.voters))
            self.run(self.tx(REGISTRAR, RegisterKeys(e.eid, entries)))
        else:
            e.salt = hash_bytes("salt", e.eid)
            e.voters = [code_keys(e.eid, e.salt, code_from_seed(e.eid, i)) for i in range(n)]
            self.run(self.tx(REGISTRAR, CommitCodes(e.eid, e.salt, tuple(v.ed25519_public for v in e.voters))))

    def tag(self, e: Election, i: int) -> bytes:
        return hash_bytes("card", e.eid + bytes([i]))

    def open(self, e: Election) -> None:
        self.run(self.tx(ADMIN, OpenElection(e.eid)))

    def ballot(self, e: Election, voter: KeyPair, sel: Selections = ((1, 0, 0),)) -> ballot_crypto.EncryptedBallot:
        return ballot_crypto.encrypt_ballot(e.m, e.key, voter.ed25519_public, sel)[0]

    def cast(self, e: Election, voter: KeyPair, sel: Selections = ((1, 0, 0),)) -> Tx:
        return self.tx(voter, CastBallot(e.eid, self.ballot(e, voter, sel)))

    def close(self, e: Election) -> None:
        self.run(self.tx(ADMIN, CloseElection(e.eid)))

    def dshare(self, e: Election, j: int) -> tally_crypto.DecryptionShare:
        tally = self.chain.state.tally(e.eid)
        assert tally is not None
        return tally_crypto.make_decryption_share(e.m, tally, j, e.secret[j])

    def post_share(self, e: Election, j: int) -> None:
        self.run(self.tx(TRUSTEES[j - 1], PostDecryptionShare(e.eid, self.dshare(e, j))))


def build_world() -> tuple[World, dict[str, Election]]:
    """Elections: ceremony (only trustee 1 committed), open (keys, re-voting), norevote, codes,
    future (opens later), closed (with one decryption share posted)."""
    w = World()
    es: dict[str, Election] = {}
    es["ceremony"] = c0 = w.create(w.manifest())
    c0.coeffs[1] = tr.polynomial(c0.m, 1, TRUSTEES[0])
    c0.coms[1] = tr.make_commitment(c0.m, 1, c0.coeffs[1])
    w.run(w.tx(TRUSTEES[0], TrusteeCommit(c0.eid, c0.coms[1])))  # trustee 1 committed, no more
    for name, kw in (
        ("open", {}),
        ("norevote", {"revoting": False}),
        ("codes", {"eligibility": "one-time-code"}),
        ("future", {"start_offset": 10 * HOUR}),
        ("closed", {}),
    ):
        e = w.create(w.manifest(**kw))  # type: ignore[arg-type]
        w.ceremony(e)
        w.register(e, 3)
        w.open(e)
        es[name] = e
    c = es["closed"]
    w.run(w.cast(c, c.voters[0]), w.cast(c, c.voters[1], ((0, 1, 0),)))
    w.close(c)
    w.post_share(c, 1)
    w.run(w.cast(es["codes"], es["codes"].voters[0]), w.cast(es["norevote"], es["norevote"].voters[0]))
    return w, es
