"""A small in-memory world with elections in every phase, for the rejection tests and vectors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ballot_tx.codec import hash_bytes
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import decryption
from ballot_tx.crypto import trustees as tr
from ballot_tx.crypto.group import L
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
    SpoilBallot,
    TrusteeCommit,
    TrusteeShares,
    Tx,
    TxBody,
    acknowledgement,
    sign_tx,
)
from harness.localchain import LocalChain
from harness.scenario import demo_manifest
from tests.ballot_tx.state.helpers import ADMIN, REGISTRAR, TRUSTEES, VALIDATORS, kp, make_genesis

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
    posted: dict[int, TrusteeShares] = field(default_factory=dict)
    # ballots kept with their secrets, by label (to spoil or re-cast them in tests)
    kept: dict[str, tuple[ballot_crypto.EncryptedBallot, ballot_crypto.BallotSecrets]] = field(default_factory=dict)

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

    def ceremony(self, e: Election, withhold: tuple[tuple[int, int], ...] = ()) -> None:
        """The whole key ceremony; the (dealer, recipient) pairs in ``withhold`` are left
        unacknowledged (the recipient complains, or stalls, in the test)."""
        for i, k in enumerate(TRUSTEES, start=1):
            e.coeffs[i] = tr.polynomial(e.m, i, k)
            e.coms[i] = tr.make_commitment(e.m, i, e.coeffs[i])
        self.run(*(self.tx(TRUSTEES[i - 1], TrusteeCommit(e.eid, e.coms[i])) for i in e.coms))
        e.posted = {i: TrusteeShares(e.eid, self.shares(e, i)) for i in e.coms}
        self.run(*(self.tx(TRUSTEES[i - 1], e.posted[i]) for i in e.coms))
        acks = {j: tuple(i for i in e.coms if i != j and (i, j) not in withhold) for j in e.coms}
        self.run(*(self.ack(e, j, acks[j]) for j in e.coms if acks[j]))
        coms = [e.coms[i] for i in sorted(e.coms)]
        for j in e.coms:
            received = {i: tr.evaluate(e.coeffs[i], j) for i in e.coms if i != j}
            e.secret[j] = tr.combined_share(e.m, j, e.coeffs[j], received, coms)

    def ack(self, e: Election, j: int, dealers: tuple[int, ...] | None = None) -> Tx:
        """Trustee ``j`` acknowledges the posted shares of ``dealers`` (default: all others)."""
        picked = {i: s for i, s in e.posted.items() if dealers is None or i in dealers}
        return self.tx(TRUSTEES[j - 1], acknowledgement(e.eid, j, picked))

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

    def open_election(self, m: Manifest, voters: int) -> Election:
        """``m`` created, its key ceremony done, ``voters`` voters registered, open."""
        e = self.create(m)
        self.ceremony(e)
        self.register(e, voters)
        self.open(e)
        return e

    def ballot(self, e: Election, voter: KeyPair, sel: Selections = ((1, 0, 0),)) -> ballot_crypto.EncryptedBallot:
        return ballot_crypto.encrypt_ballot(e.m, e.key, voter.ed25519_public, sel)[0]

    def keep(self, e: Election, label: str, voter: KeyPair, sel: Selections = ((1, 0, 0),),
             seed: bytes | None = None) -> tuple[ballot_crypto.EncryptedBallot, ballot_crypto.BallotSecrets]:
        """Encrypt a ballot and keep it (and its secrets) under ``label``."""
        e.kept[label] = ballot_crypto.encrypt_ballot(e.m, e.key, voter.ed25519_public, sel, seed)
        return e.kept[label]

    def spoil(self, e: Election, voter: KeyPair, label: str) -> Tx:
        b, secrets = e.kept[label]
        return self.tx(voter, SpoilBallot(e.eid, b, secrets))

    def cast_kept(self, e: Election, voter: KeyPair, label: str) -> Tx:
        return self.tx(voter, CastBallot(e.eid, e.kept[label][0]))

    def cast(self, e: Election, voter: KeyPair, sel: Selections = ((1, 0, 0),)) -> Tx:
        return self.tx(voter, CastBallot(e.eid, self.ballot(e, voter, sel)))

    def close(self, e: Election) -> None:
        self.run(self.tx(ADMIN, CloseElection(e.eid)))

    def dshare(self, e: Election, j: int) -> decryption.DecryptionShare:
        tally = self.chain.state.tally(e.eid)
        assert tally is not None
        return decryption.make_decryption_share(e.m, tally, j, e.secret[j])

    def post_share(self, e: Election, j: int) -> None:
        self.run(self.tx(TRUSTEES[j - 1], PostDecryptionShare(e.eid, self.dshare(e, j))))


def build_world() -> tuple[World, dict[str, Election]]:
    """Elections: ceremony (only trustee 1 committed), open (keys, re-voting), norevote, codes,
    future (opens later), closed (with one decryption share posted), acks (shares posted,
    only 1 and 2 acknowledged each other), identity (colluding constant terms cancel),
    limits (per-voter limits reached)."""
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
    # ceremony step 3 under way: all posted shares; 1 and 2 acknowledged each other, 3 nobody
    a = es["acks"] = w.create(w.manifest())
    for i, k in enumerate(TRUSTEES, start=1):
        a.coeffs[i] = tr.polynomial(a.m, i, k)
        a.coms[i] = tr.make_commitment(a.m, i, a.coeffs[i])
    w.run(*(w.tx(TRUSTEES[i - 1], TrusteeCommit(a.eid, a.coms[i])) for i in a.coms))
    a.posted = {i: TrusteeShares(a.eid, w.shares(a, i)) for i in a.coms}
    w.run(*(w.tx(TRUSTEES[i - 1], a.posted[i]) for i in a.coms))
    w.run(w.ack(a, 1, (2,)), w.ack(a, 2, (1,)))
    # trustees 1 and 2 collude so that their constant terms cancel (a_2,0 = -a_1,0); 3 is absent
    z = es["identity"] = w.create(w.manifest())
    z.coeffs[1] = tr.polynomial(z.m, 1, TRUSTEES[0])
    z.coeffs[2] = ((-z.coeffs[1][0]) % L, *tr.polynomial(z.m, 2, TRUSTEES[1])[1:])
    for i in (1, 2):
        z.coms[i] = tr.make_commitment(z.m, i, z.coeffs[i])
    w.run(*(w.tx(TRUSTEES[i - 1], TrusteeCommit(z.eid, z.coms[i])) for i in (1, 2)))
    z.posted = {i: TrusteeShares(z.eid, w.shares(z, i)) for i in (1, 2)}
    w.run(*(w.tx(TRUSTEES[i - 1], z.posted[i]) for i in (1, 2)))
    w.run(w.ack(z, 1), w.ack(z, 2))
    # per-voter limits of one spoil and two ballots: voter 0 used both; voter 2 cast "c2";
    # "s-copy" is voter 0's spoiled "s" (same ciphertexts) with proofs made for voter 1
    lim = es["limits"] = w.create(dataclasses.replace(w.manifest(), max_spoils_per_voter=1, max_ballots_per_voter=2))
    w.ceremony(lim)
    w.register(lim, 3)
    w.open(lim)
    seed = hash_bytes("spoiled-seed", lim.eid)
    w.keep(lim, "s", lim.voters[0], seed=seed)
    w.keep(lim, "s-copy", lim.voters[1], seed=seed)
    w.keep(lim, "c2", lim.voters[2], ((0, 0, 1),))
    w.run(w.spoil(lim, lim.voters[0], "s"), w.cast(lim, lim.voters[0]), w.cast_kept(lim, lim.voters[2], "c2"))
    w.run(w.cast(lim, lim.voters[0], ((0, 1, 0),)))
    c = es["closed"]
    w.run(w.cast(c, c.voters[0]), w.cast(c, c.voters[1], ((0, 1, 0),)))
    w.close(c)
    w.post_share(c, 1)
    w.run(w.cast(es["codes"], es["codes"].voters[0]), w.cast(es["norevote"], es["norevote"].voters[0]))
    return w, es
