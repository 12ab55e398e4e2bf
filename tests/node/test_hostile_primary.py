"""Issue 11 attacks 2-3 on a real 4+1 localnet whose view-0 primary is hostile.

Validator 0 (the primary of view 0) is not started as a node. In its place, this test
process runs ``HostilePrimary``: validator 0's real key from its home, a chain of its own
(``node.ledger.Ledger`` over a ``node.store.Store``, the node's own code) and the real peer
protocol (``node.peer_envelope``, ``node.peer_routes``: sealed envelopes POSTed to ``/p2p/consensus``; the same ``/p2p``
routes served on validator 0's address, so the honest validators' PREPARE, COMMIT and
VIEW-CHANGE messages reach it and can be inspected). Validators 1-3 and the observer are
real node processes on loopback.

Each test first lets the hostile primary commit one honest-looking block (so a refusal
below is the rule at work, not a broken harness), then attacks, then checks that the
attack is refused with its code, that the honest nodes stay up, answer no 5xx, agree
block for block (observer included), and keep committing under an honest primary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ballot_tx.block import MAX_TX_BYTES, Block, make_block
from ballot_tx.checks import MemoChecker
from ballot_tx.codec import decode, encode, hash_bytes, pack, to_plain
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import decryption
from ballot_tx.crypto import trustees as tr
from ballot_tx.crypto.decryption import TallyResult
from ballot_tx.crypto.tally import EncryptedTally
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.errors import BallotchainError, BlockError, ErrorCode
from ballot_tx.keys import KeyPair, load_key_file
from ballot_tx.manifest import election_id
from ballot_tx.state.execute import apply_block, block_bytes, select_txs
from ballot_tx.state.records import ElectionStatus
from ballot_tx.tx import (
    CastBallot,
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
    TrusteeCommit,
    TrusteeShares,
    acknowledgement,
    sign_tx,
)
from consensus.messages import (
    MAX_MESSAGE_SIZE,
    Commit,
    ConsensusMessage,
    Prepare,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_message,
)
from harness.scenario import demo_manifest
from harness.txgen import election_setup
from node import localnet as ln
from node.config import load_config
from node.ledger import Ledger
from node.peer_envelope import PEER_HEADER, TOPIC_CONSENSUS, preamble, seal
from node.peer_routes import add_routes
from node.store import Store
from tests.node.netutil import PARAMS, Net, assert_same_chain, wait_until

HOUR_MS = 3_600_000


# --- the hostile primary ----------------------------------------------------------------


class HostilePrimary:
    """Validator 0 turned hostile: its genesis key, its own ledger, the real peer protocol."""

    def __init__(self, net: Net, db: Path) -> None:
        home = net.validators[0].home
        cfg = load_config(home)
        self.keys = load_key_file(cfg.key_file.read_text())
        self.genesis = net.keys.genesis
        self.chain_id = net.keys.chain_id
        assert self.genesis.validator_index(self.keys.ed25519_public) == 0
        self.honest = net.validators[1:]
        self.store = Store(db, self.genesis)
        self.ledger = Ledger(self.store, self.genesis, self.chain_id)
        self.inbox: list[ConsensusMessage] = []
        self._lock = threading.Lock()
        self._tip = 0
        self._host, self._port = cfg.listen_host, cfg.listen_port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hostile-primary", daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "hostile primary did not start listening"

    # PeerBackend (node.peer_routes.add_routes): what honest peers send to validator 0
    def on_consensus(self, sender_index: int, payloads: tuple[bytes, ...]) -> None:
        for p in payloads:
            try:
                msg = decode_message(p)
            except BallotchainError:
                continue
            if msg.sender == sender_index:
                with self._lock:
                    self.inbox.append(msg)

    def on_peer_txs(self, sender: bytes, payloads: tuple[bytes, ...]) -> None:
        pass  # the hostile primary proposes what it likes

    def blocks_from(self, height: int, limit: int, max_bytes: int) -> list[bytes]:
        return []

    def tip(self) -> int:
        return self._tip

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application(client_max_size=64 << 20)
        add_routes(app, self, self.genesis, self.chain_id)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, self._host, self._port, reuse_address=True)
        loop.run_until_complete(site.start())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def close(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.store.close()

    def received(self, kind: type) -> list[ConsensusMessage]:
        with self._lock:
            return [m for m in self.inbox if isinstance(m.body, kind)]

    # proposing
    def next_slot(self) -> tuple[int, bytes]:
        return self.ledger.height + 1, self.ledger.tip_hash()

    def build(self, txs: list[bytes]) -> Block:
        """An honest, timely block of ``txs`` on our tip (``Ledger.build``, as a node does)."""
        h, prev = self.next_slot()
        block, refused = self.ledger.build(h, prev, self.keys.ed25519_public, txs, len(txs))
        assert not refused and len(block.txs) == len(txs), refused
        return block

    def block_at(self, time_ms: int, txs: list[bytes]) -> Block:
        """A block of ``txs`` on our tip whose header carries ``time_ms`` (any time we like)."""
        h, prev = self.next_slot()
        st = self.ledger.state
        kept, refused = select_txs(st, txs, time_ms, MemoChecker())
        assert not refused and len(kept) == len(txs), refused
        return make_block(h, prev, time_ms, self.keys.ed25519_public, st.root, kept)

    def pre_prepare(self, block: Block, view: int = 0) -> ConsensusMessage:
        pp = PrePrepare(view, block.height, block.hash)
        sig = self.keys.sign(PrePrepare.KIND, self.chain_id, encode(pp))
        return ConsensusMessage(0, pp, sig, (encode(block),))

    def send(self, payload: bytes) -> None:
        """POST one consensus payload, sealed with validator 0's key, to every honest validator."""
        self.send_all([payload])

    def send_all(self, payloads: list[bytes]) -> None:
        """POST consensus payloads in one envelope, sealed with validator 0's key, to every
        honest validator (the POST route: a hostile node need not use the stream)."""
        body = seal(self.keys, self.chain_id, TOPIC_CONSENSUS, payloads)
        for n in self.honest:
            req = urllib.request.Request(
                f"{n.url}/p2p/consensus", data=body, method="POST",
                headers={"Content-Type": "application/msgpack",  # bodies > 64 KiB are announced
                         PEER_HEADER: preamble(self.keys, self.chain_id, TOPIC_CONSENSUS, len(body))},
            )
            with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback
                assert r.status == 204, (n.name, r.status)

    def propose(self, block: Block) -> None:
        self.send(encode_message(self.pre_prepare(block)))

    def follow(self, node: ln.LocalNode) -> None:
        """Commit what ``node`` committed, checking each certificate from genesis."""
        tip = int(http_json(node, "/v1/status")["height"])
        while self.ledger.height < tip:
            doc = http_json(node, f"/v1/blocks/{self.ledger.height + 1}")
            self.ledger.commit_certified(
                bytes.fromhex(doc["block_bytes"]), bytes.fromhex(doc["certificate_bytes"])
            )
        self._tip = self.ledger.height


# --- the network --------------------------------------------------------------------------


def http_json(node: ln.LocalNode, path: str) -> Any:
    """GET a JSON document; any 5xx fails the test (a node never answers 500)."""
    try:
        return ln.get_json(f"{node.url}{path}", 10.0)
    except urllib.error.HTTPError as e:
        assert e.code < 500, f"{node.name} answered {e.code} to {path}"
        raise


def post(node: ln.LocalNode, raw: bytes, wait: bool) -> tuple[int, Any]:
    from harness.txgen import post_tx

    status, doc = post_tx(node.url, raw, wait, 30.0)
    assert status < 500, (node.name, status, doc)
    return status, doc


@dataclasses.dataclass
class Hostile:
    net: Net
    primary: HostilePrimary
    honest: list[ln.LocalNode]  # validators 1-3 and the observer

    @property
    def validators(self) -> list[ln.LocalNode]:
        return self.net.validators[1:]

    def heights(self) -> dict[str, int]:
        return {n.name: int(http_json(n, "/v1/status")["height"]) for n in self.honest}

    def all_alive(self) -> None:
        for n in self.honest:
            assert n.proc is not None and n.proc.poll() is None, f"{n.name} exited; see {n.log_file}"
            assert http_json(n, "/v1/status")["height"] >= 0

    def rejected(self, node: ln.LocalNode, code: ErrorCode) -> float:
        """The node's ``ballotchain_consensus_rejected_total`` for ``code`` (0 if absent)."""
        text = ln.get_text(f"{node.url}/metrics", 10.0)
        key = f'ballotchain_consensus_rejected_total{{code="{code}"}} '
        for line in text.splitlines():
            if line.startswith(key):
                return float(line[len(key):])
        return 0.0

    def commit_through_hostile(self, txs: list[bytes]) -> Block:
        """The hostile primary behaving: an honest block it proposes is committed everywhere."""
        block = self.primary.build(txs)
        self.primary.propose(block)
        wait_until(lambda: all(h >= block.height for h in self.heights().values()), 20,
                   f"honest nodes commit the hostile primary's honest block {block.height}")
        self.primary.follow(self.validators[0])
        assert self.primary.ledger.tip_hash() == block.hash
        return block

    def run_honest(self, txs: list[bytes]) -> int:
        """Commit ``txs`` through the honest validators' client API; all validators then at it."""
        with ThreadPoolExecutor(8) as pool:
            acks = list(pool.map(lambda ir: post(self.validators[ir[0] % 3], ir[1], wait=True),
                                 enumerate(txs)))
        assert all(s == 200 and d["status"] == "committed" for s, d in acks), acks
        top = max(int(d["height"]) for _, d in acks)
        wait_until(lambda: all(h >= top for h in self.heights().values()), 20,
                   f"honest nodes at height {top}")
        return top

    def replace_primary(self) -> None:
        """Wait for validators 1-3 to agree on a view after 0, then check that they stay
        there while idle (a stale slot must not make them churn views back to validator 0)."""

        def moved() -> bool:
            v = self.views()
            return len(v) == 3 and len(set(v)) == 1 and v[0] >= 1

        wait_until(moved, 20, "the honest validators in a new view")
        settled = self.views()
        timeout_s = self.net.keys.genesis.params.view_timeout_ms / 1000
        time.sleep(4 * timeout_s)  # two doubled view timeouts: long enough to see a churn
        assert self.views() == settled, (settled, self.views())

    def views(self) -> list[int]:
        out = []
        for n in self.validators:
            st = http_json(n, "/v1/status")
            if st["view_active"]:
                out.append(int(st["view"]))
        return out

    def agree(self) -> int:
        """Same block bytes at every height on validators 1-3 and the observer (and the hostile
        primary's own chain, where it followed)."""
        return assert_same_chain(self.net, self.honest)


@contextmanager
def hostile_net(root: Path, **net_kwargs: Any) -> Iterator[Hostile]:
    """Validators 1-3 and the observer as processes, validator 0 as a ``HostilePrimary``;
    everything is stopped on exit, whatever happens."""
    net = Net(root / "net", **net_kwargs)
    honest = net.validators[1:] + [net.observer]
    primary: HostilePrimary | None = None
    try:
        primary = HostilePrimary(net, root / "hostile-db")
        for node in honest:
            ln.start(node)
        ln.wait_ready(honest, timeout=60)
        yield Hostile(net, primary, honest)
    finally:
        for node in honest:
            ln.stop(node, timeout=5)
        if primary is not None:
            primary.close()


def log_has(node: ln.LocalNode, *words: str) -> bool:
    return any(all(w in line for w in words) for line in node.log_file.read_text().splitlines())


def cast_ballot_honestly(h: Hostile, name: str) -> tuple[int, int, int]:
    """Create, run the ceremony for, register and open an election through the honest
    validators, then cast one ballot. Returns (height, block time, time posted)."""
    keys = h.net.keys
    now = int(time.time() * 1000)
    m = demo_manifest(keys.trustees, now, now + 86_400_000, rating=False, name=name)
    voter = KeyPair.generate()
    eid = election_setup(keys, m, [voter], h.run_honest)
    doc = http_json(h.validators[0], f"/v1/elections/{eid.hex()}")
    status = decode(ElectionStatus, bytes.fromhex(doc["status_bytes"]))
    assert status.joint_key is not None
    ballot = ballot_crypto.encrypt_ballot(m, status.joint_key, voter.ed25519_public, ((1, 0, 0),))[0]
    posted = int(time.time() * 1000)
    s, d = post(h.validators[1], encode(keys.sign(voter, CastBallot(eid, ballot))), wait=True)
    assert s == 200 and d["status"] == "committed", d
    block = http_json(h.validators[2], f"/v1/blocks/{d['height']}")
    return int(d["height"]), int(block["header"]["time_ms"]), posted


# --- attack 2: block time -------------------------------------------------------------------


def test_stale_block_time_is_not_committed_and_an_honest_primary_takes_over(tmp_path: Path) -> None:
    """Attack 2 on the wire: the view-0 primary proposes a block that is valid (the
    application accepts it: time increases) but is timed one hour ago. No honest validator
    prepares it (CONSENSUS_UNTIMELY), they change view, and the honest primary of view 1
    commits a ballot in a block timed now."""
    now = int(time.time() * 1000)
    with hostile_net(tmp_path, genesis_time_ms=now - 2 * HOUR_MS) as h:
        g = h.net.keys.genesis.params
        window = (g.time_precision_ms, g.time_msg_delay_ms)
        # The attack: a stale block at height 1, after genesis time (so valid), an hour old.
        create = encode(h.net.keys.sign(h.net.keys.admin, CreateElection(
            demo_manifest(h.net.keys.trustees, now, now + 86_400_000, rating=False, name="stale"))))
        stale = h.primary.block_at(int(time.time() * 1000) - HOUR_MS, [create])
        assert h.primary.ledger.validate(1, h.net.keys.chain_id, encode(stale))  # valid, only untimely
        assert all(h.rejected(n, ErrorCode.CONSENSUS_UNTIMELY) == 0 for n in h.validators)
        h.primary.propose(stale)

        wait_until(lambda: all(h.rejected(n, ErrorCode.CONSENSUS_UNTIMELY) >= 1 for n in h.validators),
                   30, "every honest validator counting the proposal CONSENSUS_UNTIMELY")
        h.replace_primary()
        # they asked to replace validator 0, and never prepared or committed its block
        vcs = {m.sender for m in h.primary.received(ViewChange) if m.body.new_view >= 1}  # type: ignore[union-attr]
        assert vcs == {1, 2, 3}, vcs
        votes = [m for m in h.primary.received(Prepare) + h.primary.received(Commit)
                 if m.body.block_hash == stale.hash]  # type: ignore[union-attr]
        assert votes == []
        assert set(h.heights().values()) == {0}
        # Now a backup, validator 0 signs a PREPARE and a COMMIT for a block nobody proposed
        # in the honest view: counted nowhere, and no reason for an idle network to move on.
        view = h.views()[0]
        for body in (Prepare(view, 1, os.urandom(32)), Commit(view, 1, os.urandom(32))):
            sig = h.primary.keys.sign(type(body).KIND, h.net.keys.chain_id, encode(body))
            h.primary.send(encode_message(ConsensusMessage(0, body, sig)))
        h.replace_primary()
        assert h.views() == [view] * 3

        # An honest primary now runs an election; its blocks are timed by honest clocks.
        height, block_time, posted = cast_ballot_honestly(h, "after-stale")
        assert posted - window[0] <= block_time <= int(time.time() * 1000) + window[0]
        for n in h.honest:
            assert http_json(n, "/v1/blocks/1")["hash"] != stale.hash.hex()
            with pytest.raises(urllib.error.HTTPError) as missing:
                http_json(n, f"/v1/txs/{hash_bytes('tx', create).hex()}")
            assert missing.value.code == 404
        assert h.agree() >= height
        h.all_alive()


@pytest.mark.parametrize("how", ["frozen", "ahead"])
def test_working_primary_cannot_freeze_or_advance_block_time(tmp_path: Path, how: str) -> None:
    """Attack 2 as the issue tells it: a primary that keeps committing is not replaced, so
    it could hold block time still (the next block timed 1 ms after its last one, seconds
    ago: ballots cast after the end time would still count) or run it ahead (10 minutes:
    the polls would close early). Its honest block commits; the untimely one is not
    prepared by any honest validator (CONSENSUS_UNTIMELY), the view changes, and the same
    transaction commits under the honest primary in a block timed now."""
    with hostile_net(tmp_path) as h:
        keys = h.net.keys
        p = keys.genesis.params
        now = int(time.time() * 1000)
        first = h.commit_through_hostile([encode(keys.sign(keys.admin, CreateElection(
            demo_manifest(keys.trustees, now, now + 86_400_000, rating=False, name="first"))))])
        if how == "frozen":
            # until the last block time is older than the timeliness window's lower edge
            lag_ms = p.time_precision_ms + p.time_msg_delay_ms + 1000
            time.sleep(max(0.0, (first.header.time_ms + lag_ms) / 1000 - time.time()))
            t = first.header.time_ms + 1
        else:
            t = int(time.time() * 1000) + 600_000
        create = encode(keys.sign(keys.admin, CreateElection(
            demo_manifest(keys.trustees, now, now + 86_400_000, rating=False, name="second"))))
        untimely = h.primary.block_at(t, [create])
        assert h.primary.ledger.validate(2, first.hash, encode(untimely))  # valid, only untimely
        h.primary.propose(untimely)

        wait_until(lambda: all(h.rejected(n, ErrorCode.CONSENSUS_UNTIMELY) >= 1 for n in h.validators),
                   30, "every honest validator counting the proposal CONSENSUS_UNTIMELY")
        h.replace_primary()
        assert set(h.heights().values()) == {1}
        votes = [m for m in h.primary.received(Prepare) + h.primary.received(Commit)
                 if m.body.block_hash == untimely.hash]  # type: ignore[union-attr]
        assert votes == []

        posted = int(time.time() * 1000)
        top = h.run_honest([create])
        b = http_json(h.validators[0], f"/v1/blocks/{top}")
        assert b["hash"] != untimely.hash.hex() and hash_bytes("tx", create).hex() in b["tx_hashes"]
        block_time = int(b["header"]["time_ms"])
        assert posted - p.time_precision_ms <= block_time <= int(time.time() * 1000) + p.time_precision_ms
        assert h.agree() == top
        h.all_alive()


def test_a_validator_flooding_consensus_messages_is_bounded_and_counted(tmp_path: Path) -> None:
    """A validator sends far more consensus messages than an honest one ever has waiting:
    one envelope of ``MAX_BACKLOG_PER_SENDER`` + 500 copies of a signed PREPARE. Each
    honest validator queues at most ``MAX_BACKLOG_PER_SENDER`` of them and drops the rest
    with ``NODE_PEER_FLOODING`` (counted in its metrics, logged), stays up, and the
    network goes on committing without validator 0."""
    from node.driver import MAX_BACKLOG_PER_SENDER

    with hostile_net(tmp_path) as h:
        keys = h.net.keys
        body = Prepare(0, 1, os.urandom(32))
        sig = h.primary.keys.sign(Prepare.KIND, keys.chain_id, encode(body))
        h.primary.send_all([encode_message(ConsensusMessage(0, body, sig))] * (MAX_BACKLOG_PER_SENDER + 500))
        wait_until(lambda: all(h.rejected(n, ErrorCode.NODE_PEER_FLOODING) > 0 for n in h.validators),
                   30, "every honest validator counting the flood NODE_PEER_FLOODING")
        assert [h.rejected(n, ErrorCode.NODE_PEER_FLOODING) for n in h.validators] == [500.0] * 3
        assert all(log_has(n, "consensus messages dropped", "NODE_PEER_FLOODING") for n in h.validators)
        h.all_alive()
        now = int(time.time() * 1000)
        create = encode(keys.sign(keys.admin, CreateElection(
            demo_manifest(keys.trustees, now, now + 86_400_000, rating=False, name="after-flood"))))
        top = h.run_honest([create])
        assert h.agree() == top
        h.all_alive()


# --- attack 3: sizes ------------------------------------------------------------------------


def registrations(h: Hostile, eid: bytes, count: int, per_tx: int) -> list[bytes]:
    """``count`` RegisterKeys transactions of ``per_tx`` voters each (about 70 bytes per voter)."""
    out = []
    for b in range(count):
        entries = tuple(
            KeyEntry(
                KeyPair.from_seed(hash_bytes("hostile-bulk", bytes([b, i % 256, i // 256]))).ed25519_public,
                hash_bytes("hostile-tag", bytes([b, i % 256, i // 256])),
            )
            for i in range(per_tx)
        )
        out.append(encode(h.net.keys.sign(h.net.keys.registrar, RegisterKeys(eid, entries))))
    return out


def test_oversized_proposal_is_refused_and_no_node_stops(tmp_path: Path) -> None:
    """Attack 3 on the wire: the view-0 primary sends (1) a PRE-PREPARE whose message is over
    the 8 MiB consensus limit and (2) one whose block of valid registrations totals more than
    genesis max_block_bytes. Neither commits (BLOCK_TOO_LARGE, CONSENSUS_INVALID_BLOCK), no
    node stops, and the honest primary of the next view commits the same registrations in
    blocks within the cap."""
    cap = MAX_TX_BYTES  # the smallest cap genesis allows: 256 KiB
    params = dataclasses.replace(PARAMS, max_block_bytes=cap)
    with hostile_net(tmp_path, params=params) as h:
        keys = h.net.keys
        now = int(time.time() * 1000)
        m = demo_manifest(keys.trustees, now, now + 86_400_000, rating=False, name="big")
        eid = election_id(m)
        # The hostile primary is a working primary: its honest block 1 commits everywhere.
        h.commit_through_hostile([encode(keys.sign(keys.admin, CreateElection(m)))])
        assert h.agree() == 1

        # (1) over the consensus message limit: dropped at decoding, nothing else happens
        junk = [os.urandom(MAX_TX_BYTES - 64) for _ in range(MAX_MESSAGE_SIZE // MAX_TX_BYTES + 2)]
        huge = h.primary.block_at(int(time.time() * 1000), [])
        huge = make_block(huge.height, huge.header.prev_hash, huge.header.time_ms,
                          huge.header.proposer, huge.header.state_root, junk)
        raw = pack(to_plain(h.primary.pre_prepare(huge)))  # encode_message would refuse to
        assert len(raw) > MAX_MESSAGE_SIZE
        with pytest.raises(BallotchainError) as undecodable:
            decode_message(raw)
        assert undecodable.value.code == ErrorCode.CONSENSUS_BAD_MESSAGE
        h.primary.send(raw)
        time.sleep(1.0)
        h.all_alive()
        assert set(h.heights().values()) == {1}

        # (2) a block of valid registrations over max_block_bytes
        regs = registrations(h, eid, 5, 1000)  # ~70 KB each
        assert block_bytes(regs) > cap and all(len(r) < cap for r in regs)
        for r in regs:
            h.primary.ledger.check_tx(r)  # each is valid (they are independent)
        st = h.primary.ledger.state
        big = make_block(2, st.block_hash, int(time.time() * 1000), h.primary.keys.ed25519_public,
                         st.root, regs)
        with pytest.raises(BlockError) as too_big:
            apply_block(st, big, MemoChecker())
        assert too_big.value.code == ErrorCode.BLOCK_TOO_LARGE  # the one thing wrong with it
        h.primary.propose(big)
        wait_until(lambda: all(h.rejected(n, ErrorCode.CONSENSUS_INVALID_BLOCK) >= 1
                               for n in h.validators),
                   30, "every honest validator refusing the oversized block")
        for n in h.validators:
            assert log_has(n, "block refused", "height=2", f"code={ErrorCode.BLOCK_TOO_LARGE}")
        h.replace_primary()
        assert set(h.heights().values()) == {1}
        h.all_alive()

        # The chain goes on: the same registrations commit, split into blocks within the cap.
        top = h.run_honest(regs)
        for height in range(2, top + 1):
            b = http_json(h.validators[0], f"/v1/blocks/{height}")
            assert b["hash"] != big.hash.hex()
            txs = decode(Block, bytes.fromhex(b["block_bytes"])).txs
            assert block_bytes(txs) <= cap
        assert top >= 3  # more than one block was needed
        doc = http_json(h.validators[1], f"/v1/elections/{eid.hex()}")
        assert doc is not None
        for n in h.validators:
            assert not log_has(n, "task crashed")
        assert h.agree() == top
        h.all_alive()


# --- attack 1: a verdict from an abandoned proposal -----------------------------------------


def committed_on(node: ln.LocalNode, raw: bytes) -> bool:
    try:
        return bool(http_json(node, f"/v1/txs/{hash_bytes('tx', raw).hex()}")["status"] == "committed")
    except urllib.error.HTTPError:
        return False


def test_verdict_from_abandoned_proposal_is_not_reused(tmp_path: Path) -> None:
    """Attack 1 on the wire: the view-0 primary runs an election's ceremony honestly (trustees
    1 and 2 post and acknowledge shares; trustee 3 has only committed), then proposes [open with trustees {1,2} (key K1), a ballot valid under K1, a second open]: the
    honest validators execute the open and the ballot (the ballot's proofs verify under K1)
    and refuse the block at its last transaction. The honest primary of the next view commits
    trustee 3's shares and the open (trustees {1,2,3}, key K2); the K1 ballot is then refused
    by every honest validator with TX_BAD_BALLOT, and a ballot under K2 is committed."""
    with hostile_net(tmp_path) as h:
        keys = h.net.keys
        trustees = keys.trustees
        now = int(time.time() * 1000)
        m = demo_manifest(trustees, now, now + 86_400_000, rating=False, name="reuse")
        eid = election_id(m)
        coeffs = {i: tr.polynomial(m, i, trustees[i - 1]) for i in (1, 2, 3)}
        coms = {i: tr.make_commitment(m, i, coeffs[i]) for i in coeffs}
        shares = {i: tr.make_shares(m, i, trustees[i - 1], coeffs[i], coms[i]) for i in coeffs}
        voter = KeyPair.generate()
        tag = hash_bytes("hostile-card", eid)

        # The hostile primary runs the ceremony honestly; trustee 3's shares are not in yet.
        h.commit_through_hostile([encode(keys.sign(keys.admin, CreateElection(m)))])
        h.commit_through_hostile(
            [encode(keys.sign(trustees[i - 1], TrusteeCommit(eid, coms[i]))) for i in (1, 2, 3)])
        posted = {i: TrusteeShares(eid, shares[i]) for i in (1, 2, 3)}
        h.commit_through_hostile([encode(keys.sign(trustees[i - 1], posted[i])) for i in (1, 2)])
        h.commit_through_hostile([encode(keys.sign(trustees[j - 1], acknowledgement(
            eid, j, {i: posted[i] for i in (1, 2)}))) for j in (1, 2)])
        h.commit_through_hostile([encode(keys.sign(keys.registrar, RegisterKeys(
            eid, (KeyEntry(voter.ed25519_public, tag),))))])
        assert h.agree() == 5

        # The hostile proposal: [open (K1 = trustees 1 and 2), a K1 ballot, a second open].
        k1 = tr.joint_key([coms[1], coms[2]])
        ballot = ballot_crypto.encrypt_ballot(m, k1, voter.ed25519_public, ((1, 0, 0),))[0]
        cast = encode(keys.sign(voter, CastBallot(eid, ballot)))
        open_ = encode(keys.sign(keys.admin, OpenElection(eid)))
        expires = int(time.time() * 1000) + 2 * HOUR_MS
        open_again = encode(sign_tx(keys.admin, keys.chain_id, OpenElection(eid), expires))
        st = h.primary.ledger.state
        t = int(time.time() * 1000)
        kept, refused = select_txs(st, [open_, cast, open_again], t, MemoChecker())
        assert kept == [open_, cast]  # the open and the ballot are valid, in this order ...
        assert [(i, e.code) for i, e in refused] == [(2, ErrorCode.TX_WRONG_PHASE)]  # ... not this
        block = make_block(6, st.block_hash, t, h.primary.keys.ed25519_public, st.root,
                           [open_, cast, open_again])
        h.primary.propose(block)
        # Trustee 3's shares reach the honest validators (the next primary will include them).
        s3 = encode(keys.sign(trustees[2], posted[3]))
        status, doc = post(h.validators[0], s3, wait=False)
        assert status in (200, 202), doc

        wait_until(lambda: all(h.rejected(n, ErrorCode.CONSENSUS_INVALID_BLOCK) >= 1
                               for n in h.validators),
                   30, "every honest validator refusing the hostile block")
        for n in h.validators:  # executed up to its last transaction, then refused
            assert log_has(n, "block refused", "height=6", f"code={ErrorCode.TX_WRONG_PHASE}")
        wait_until(lambda: all(committed_on(n, s3) for n in h.honest), 20,
                   "trustee 3's shares committed by an honest primary")
        h.replace_primary()
        assert all(not committed_on(n, cast) for n in h.honest)

        # The proper open, once everyone acknowledged trustee 3's shares and trustee 3 the
        # others': all three trustees qualified, another joint key.
        h.run_honest([encode(keys.sign(trustees[j - 1], acknowledgement(eid, j, {3: posted[3]})))
                      for j in (1, 2)]
                     + [encode(keys.sign(trustees[2], acknowledgement(eid, 3, posted)))])
        h.run_honest([open_])
        doc = http_json(h.validators[1], f"/v1/elections/{eid.hex()}")
        status_now = decode(ElectionStatus, bytes.fromhex(doc["status_bytes"]))
        assert status_now.qualified == (1, 2, 3)
        assert status_now.joint_key is not None and status_now.joint_key != k1

        # The ballot whose proofs held under K1 is checked again under K2: refused everywhere.
        for n in h.validators:
            code, answer = post(n, cast, wait=False)
            assert 400 <= code < 500 and answer["error"] == ErrorCode.TX_BAD_BALLOT, (n.name, answer)
        good = ballot_crypto.encrypt_ballot(m, status_now.joint_key, voter.ed25519_public,
                                            ((0, 1, 0),))[0]
        h.run_honest([encode(keys.sign(voter, CastBallot(eid, good)))])
        assert all(not committed_on(n, cast) for n in h.honest)

        # The published result counts the K2 ballot alone, on every honest node.
        h.run_honest([encode(keys.sign(keys.admin, CloseElection(eid)))])
        doc = http_json(h.validators[0], f"/v1/elections/{eid.hex()}")
        tally = decode(EncryptedTally, bytes.fromhex(doc["tally_bytes"]))
        qualified = [coms[i] for i in (1, 2, 3)]
        dshares = []
        for j in (1, 2):
            received = {s.sender: tr.open_share(m, trustees[j - 1], coms[s.sender], s)
                        for i in (1, 2, 3) for s in shares[i] if s.recipient == j}
            secret = tr.combined_share(m, j, coeffs[j], received, qualified)
            dshares.append(decryption.make_decryption_share(m, tally, j, secret))
        h.run_honest([encode(keys.sign(trustees[d.trustee - 1], PostDecryptionShare(eid, d)))
                      for d in dshares])
        result = decryption.decrypt_tally(m, qualified, tally, dshares)
        top = h.run_honest([encode(keys.sign(keys.admin, PublishResult(eid, result)))])
        assert h.agree() == top
        for n in h.honest:
            doc = http_json(n, f"/v1/elections/{eid.hex()}/result")
            published = decode(TallyResult, bytes.fromhex(doc["result_bytes"]))
            assert published.ballots == 1 and published.counts == ((0, 1, 0),)
        h.all_alive()
