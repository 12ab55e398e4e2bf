"""A whole election driven in-process: every role's transactions, from create to result.

This is the demo's election and the whole-election test: officials create it,
three trustees run the key ceremony (threshold two), the registrar registers
voters (pseudonymous keys with card tags, or one-time codes), voters cast
ballots (some re-vote, one spoils a ballot as a Benaloh audit), the admin
closes, two trustees post decryption shares, the result is published, and the
published counts are compared with the plaintext tally of the last ballot of
each voter. Everything goes through signed transactions and ``apply_block``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ballot_tx.codec import hash_bytes
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import decryption
from ballot_tx.eligibility.city_login import LoginProvider
from ballot_tx.eligibility.one_time_code import (
    CommitCodes,
    code_from_seed,
    code_keys,
    code_public_key,
)
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import (
    RATING_LEVELS,
    Contest,
    Label,
    Manifest,
    Option,
    Selections,
    TrusteeInfo,
    election_id,
)
from ballot_tx.tx import (
    VOTER_TX_LIFETIME_MS,
    CastBallot,
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
    SpoilBallot,
    Tx,
    TxBody,
    sign_tx,
)
from harness.ceremony import honest_ceremony
from harness.webpoll import DEMO_PROVIDER, ChainState


class ElectionChain(Protocol):
    """What ``run_election`` needs of a chain: ``harness.localchain.LocalChain`` in process,
    ``harness.netchain.NetworkChain`` over a network's HTTP API."""

    chain_id: bytes

    @property
    def state(self) -> ChainState: ...

    def next_time(self) -> int: ...

    def run(self, txs: list[Tx]) -> list[bytes]: ...


def demo_manifest(
    trustees: list[KeyPair],
    start_ms: int,
    end_ms: int,
    eligibility: str = "registered-key",
    rating: bool = True,
    threshold: int = 2,
    name: str = "tsukuba-demo",
    login_provider: LoginProvider | None = None,
) -> Manifest:
    """A small Tsukuba-style ballot: a single-choice question and (optionally) a rating.
    A ``city-login`` ballot names ``login_provider`` (by default ``DEMO_PROVIDER``)."""
    contests = [
        Contest(
            "park",
            "single",
            Label("新しい公園の場所", "Location of the new park"),
            (
                Option("kenkyu-gakuen", Label("研究学園", "Kenkyu-gakuen"), None),
                Option("tsukuba-center", Label("つくば駅前", "Tsukuba Center"), None),
                Option("mt-tsukuba", Label("筑波山麓", "Foot of Mt Tsukuba"), None),
            ),
            1,
            1,
        )
    ]
    if rating:
        contests.append(
            Contest(
                "pledges",
                "rating",
                Label("市長公約の評価", "Rating of the mayor's pledges"),
                (
                    Option("childcare", Label("子育て支援", "Childcare support"), None),
                    Option("transit", Label("公共交通", "Public transit"), None),
                ),
                2,
                2,
            )
        )
    return Manifest(
        version=1,
        name=name,
        title=Label("つくば市 住民投票 (デモ)", "Tsukuba city poll (demo)"),
        contests=tuple(contests),
        eligibility=eligibility,
        start_ms=start_ms,
        end_ms=end_ms,
        revoting=eligibility == "registered-key",
        trustees=tuple(
            TrusteeInfo(f"trustee-{i + 1}", k.ed25519_public, k.x25519_public)
            for i, k in enumerate(trustees)
        ),
        threshold=threshold,
        nonce=hash_bytes("demo-nonce", name.encode()),
        login_provider=(login_provider or DEMO_PROVIDER) if eligibility == "city-login" else None,
    )


def random_selections(m: Manifest, rnd: random.Random) -> Selections:
    out = []
    for c in m.contests:
        n = len(c.options)
        if c.kind == "rating":
            out.append(tuple(rnd.choice(RATING_LEVELS) for _ in range(n)))
        else:
            k = rnd.randint(c.min_selections, c.max_selections)
            chosen = set(rnd.sample(range(n), k))
            out.append(tuple(int(i in chosen) for i in range(n)))
    return tuple(out)


def plaintext_counts(m: Manifest, votes: list[Selections]) -> tuple[tuple[int, ...], ...]:
    """The expected decrypted counts: per slot, as the tally encodes them."""
    rows = []
    for ci, c in enumerate(m.contests):
        if c.kind == "rating":
            levels = len(RATING_LEVELS)
            row = [0] * (len(c.options) * levels)
            for v in votes:
                for i, r in enumerate(v[ci]):
                    row[i * levels + RATING_LEVELS.index(r)] += 1
        else:
            row = [sum(v[ci][i] for v in votes) for i in range(len(c.options))]
        rows.append(tuple(row))
    return tuple(rows)


@dataclass
class Outcome:
    election_id: bytes
    manifest: Manifest
    result: decryption.TallyResult
    expected: tuple[tuple[int, ...], ...]
    ballots_cast: int
    voters: int
    revotes: int
    spoiled: int
    tx_hashes: dict[str, list[bytes]] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return self.result.counts == self.expected


@dataclass
class Roles:
    admin: KeyPair
    registrar: KeyPair
    trustees: list[KeyPair]


def run_election(
    chain: ElectionChain,
    roles: Roles,
    voters: int = 100,
    revoters: int = 10,
    eligibility: str = "registered-key",
    rating: bool = False,
    seed: int = 7,
    decrypting: tuple[int, ...] = (1, 3),
    name: str = "tsukuba-demo",
    log: Callable[[str], None] = lambda s: None,
    deterministic: bool = False,
) -> Outcome:
    """Run one whole election on ``chain``; returns the published and expected counts.

    With ``deterministic``, ballot encryption randomness is derived from ``seed``
    (test vectors only), so the same chain comes out byte for byte every time.
    """
    rnd = random.Random(seed)
    counter = [0]

    def encrypt(k: KeyPair, sel: Selections) -> tuple[ballot_crypto.EncryptedBallot, ballot_crypto.BallotSecrets]:
        bseed = None
        if deterministic:
            counter[0] += 1
            bseed = hash_bytes("scenario-ballot", seed.to_bytes(8, "big") + counter[0].to_bytes(8, "big"))
        return ballot_crypto.encrypt_ballot(m, key, k.ed25519_public, sel, bseed)

    cid = chain.chain_id
    now = chain.next_time()

    def tx(keys: KeyPair, body: TxBody) -> Tx:
        return sign_tx(keys, cid, body, chain.next_time() + VOTER_TX_LIFETIME_MS)

    m = demo_manifest(roles.trustees, now, now + 7 * 24 * 3_600_000, eligibility, rating, name=name)
    eid = election_id(m)
    hashes: dict[str, list[bytes]] = {}
    hashes["create"] = chain.run([tx(roles.admin, CreateElection(m))])
    log(f"election {name} created: id {eid.hex()[:16]}, {eligibility}, 3 trustees, threshold 2")

    # key ceremony
    ceremony = honest_ceremony(m, roles.trustees)
    for step, bodies in ceremony.postings():
        hashes[step] = chain.run([tx(roles.trustees[i - 1], body) for i, body in sorted(bodies.items())])
    log("key ceremony done: every trustee checked its shares against the commitments and said so")

    # voters
    voter_keys: list[KeyPair]
    if eligibility == "registered-key":
        voter_keys = [KeyPair.from_seed(hash_bytes("demo-voter", name.encode() + bytes([i % 256, i // 256]))) for i in range(voters)]
        entries = tuple(
            KeyEntry(k.ed25519_public, hash_bytes("demo-card", eid + i.to_bytes(4, "big")))
            for i, k in enumerate(voter_keys)
        )
        reg: list[TxBody] = [RegisterKeys(eid, entries[i : i + 500]) for i in range(0, voters, 500)]
    else:
        salt = hash_bytes("demo-salt", eid)
        codes = [code_from_seed(eid, i) for i in range(voters)]
        voter_keys = [code_keys(eid, salt, c) for c in codes]
        pubs = tuple(code_public_key(eid, salt, c) for c in codes)
        reg = [CommitCodes(eid, salt, pubs[i : i + 500]) for i in range(0, voters, 500)]
    hashes["register"] = chain.run([tx(roles.registrar, b) for b in reg])
    log(f"registrar registered {voters} voters")
    hashes["open"] = chain.run([tx(roles.admin, OpenElection(eid))])
    st = chain.state.election(eid)
    assert st is not None and st.joint_key is not None
    key = st.joint_key
    log("election opened with the joint key of the qualified trustees")

    # voting: everyone votes, some change their mind (last ballot counts), one spoils
    final: dict[int, Selections] = {}
    casts: list[Tx] = []
    for i, k in enumerate(voter_keys):
        sel = random_selections(m, rnd)
        ballot, _ = encrypt(k, sel)
        casts.append(tx(k, CastBallot(eid, ballot)))
        final[i] = sel
    spoiled = 0
    if voter_keys:
        k = voter_keys[0]
        sel = random_selections(m, rnd)
        ballot, secrets = encrypt(k, sel)
        casts.append(tx(k, SpoilBallot(eid, ballot, secrets)))
        spoiled = 1
    revotes = 0
    if m.revoting:
        for i in rnd.sample(range(len(voter_keys)), min(revoters, len(voter_keys))):
            k = voter_keys[i]
            sel = random_selections(m, rnd)
            ballot, _ = encrypt(k, sel)
            casts.append(tx(k, CastBallot(eid, ballot)))
            final[i] = sel
            revotes += 1
    hashes["cast"] = chain.run(casts)
    log(f"{len(casts) - spoiled} ballots cast ({revotes} re-votes), {spoiled} spoiled ballot audited")

    hashes["close"] = chain.run([tx(roles.admin, CloseElection(eid))])
    tally = chain.state.tally(eid)
    assert tally is not None
    dshares = ceremony.decryption_shares(tally, decrypting)
    hashes["decrypt"] = chain.run(
        [tx(roles.trustees[s.trustee - 1], PostDecryptionShare(eid, s)) for s in dshares]
    )
    result = decryption.decrypt_tally(m, ceremony.qualified, tally, dshares)
    hashes["result"] = chain.run([tx(roles.admin, PublishResult(eid, result))])
    log(f"closed; trustees {', '.join(map(str, decrypting))} decrypted the tally; result published")
    published = chain.state.result(eid)
    assert published is not None
    return Outcome(
        eid,
        m,
        published,
        plaintext_counts(m, list(final.values())),
        len(casts) - spoiled,
        len(voter_keys),
        revotes,
        spoiled,
        hashes,
    )
