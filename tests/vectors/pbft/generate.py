"""Generate the PBFT step vectors: ``python tests/vectors/pbft/generate.py [--check]``.

Each scenario drives one replica through the pure core ``consensus.replica.step`` with a
scripted series of events (the other validators' messages are signed here with their
keys) and records, for every event, the actions it returned and the error codes it
refused with. Everything is deterministic (Ed25519 signatures, fixed seeds and clocks),
so the file is a pure function of the code: ``--check`` exits 1 if it differs.
Format and the sim application's block layout: README.md.

Scenarios avoid view-synchronization corner cases (a lone replica in a higher view):
every view change here is joined or led with 2f+1 VIEW-CHANGEs at hand.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from ballot_tx.codec import Wire, decode, encode  # noqa: E402
from ballot_tx.errors import ConsensusError  # noqa: E402
from consensus.certificate import CommitCertificate  # noqa: E402
from consensus.checkpoint import genesis_checkpoint  # noqa: E402
from consensus.events import (  # noqa: E402
    Action,
    CancelTimer,
    ClientWork,
    CommitBlock,
    Event,
    Executed,
    Fetch,
    FetchedBlocks,
    Persist,
    ProposalReady,
    Received,
    RequestProposal,
    SafetyRecord,
    Send,
    SetTimer,
    Start,
    TimerFired,
)
from consensus.messages import (  # noqa: E402
    Checkpoint,
    CheckpointProof,
    Commit,
    ConsensusMessage,
    NewView,
    NewViewEntry,
    Prepare,
    PreparedProof,
    PrePrepare,
    SignedViewChange,
    ViewChange,
    VoteSig,
    encode_message,
)
from consensus.replica import ReplicaState, init_state, record, step  # noqa: E402
from consensus.sim.app import SimApp, make_block, next_root  # noqa: E402
from consensus.sim.base import sim_key  # noqa: E402
from consensus.sim.world import sim_genesis  # noqa: E402
from genesis.document import genesis_hash  # noqa: E402

OUT = Path(__file__).resolve().parent / "vectors.json"
N, INTERVAL, TIMEOUT_MS, PRECISION_MS, DELAY_MS = 4, 2, 200, 20, 45
GENESIS = sim_genesis(N, INTERVAL, TIMEOUT_MS, PRECISION_MS, DELAY_MS)
CHAIN_ID = genesis_hash(GENESIS)
APP = SimApp()
F = (N - 1) // 3
#: the local clock of every Received event unless a scenario says otherwise (ms)
T0 = 1_700_000_000_000


def seed(i: int) -> bytes:
    return i.to_bytes(4, "big") * 8  # sim_key's seed


def sign(i: int, body: Wire) -> bytes:
    return sim_key(i).sign(type(body).KIND, CHAIN_ID, encode(body))


def msg(i: int, body: Wire, blocks: tuple[bytes, ...] = ()) -> ConsensusMessage:
    return ConsensusMessage(i, body, sign(i, body), blocks)  # type: ignore[arg-type]


def block(height: int, prev: bytes, nonce: int = 0, valid: bool = True, time_ms: int = T0) -> bytes:
    return make_block(height, prev, height % N, nonce, valid, time_ms)


def digest(b: bytes) -> bytes:
    return APP.block_hash(b)


def root_after(height: int, d: bytes) -> bytes:
    """The sim application's state root after ``height`` (a hash chain over block hashes)."""
    return next_root(height.to_bytes(32, "big"), d)


def cert(height: int, view: int, d: bytes, signers: tuple[int, ...] = (0, 1, 2)) -> CommitCertificate:
    c = Commit(view, height, d)
    return CommitCertificate(height, view, d, tuple(VoteSig(i, sign(i, c)) for i in signers))


def prepared(view: int, height: int, d: bytes, preparers: tuple[int, ...]) -> PreparedProof:
    p = view % N
    return PreparedProof(view, height, d, sign(p, PrePrepare(view, height, d)),
                         tuple(VoteSig(i, sign(i, Prepare(view, height, d))) for i in preparers))


# --- JSON forms of events and actions --------------------------------------------------


def event_json(ev: Event) -> dict[str, Any]:
    if isinstance(ev, Start):
        return {"type": "Start"}
    if isinstance(ev, Received):
        return {"type": "Received", "message": encode_message(ev.message).hex(), "at_ms": ev.at_ms}
    if isinstance(ev, TimerFired):
        return {"type": "TimerFired", "name": ev.name, "token": ev.token}
    if isinstance(ev, ProposalReady):
        return {"type": "ProposalReady", "height": ev.height, "view": ev.view, "block": ev.block.hex()}
    if isinstance(ev, Executed):
        return {"type": "Executed", "height": ev.height, "state_root": ev.state_root.hex()}
    if isinstance(ev, ClientWork):
        return {"type": "ClientWork", "pending": ev.pending}
    assert isinstance(ev, FetchedBlocks)
    return {"type": "FetchedBlocks", "blocks": [[b.hex(), encode(c).hex()] for b, c in ev.blocks]}


def action_json(a: Action) -> dict[str, Any]:
    if isinstance(a, Persist):
        return {"type": "Persist", "record": encode(a.record).hex()}
    if isinstance(a, Send):
        return {"type": "Send", "message": encode_message(a.message).hex(), "to": a.to}
    if isinstance(a, SetTimer):
        return {"type": "SetTimer", "name": a.name, "token": a.token, "delay_ms": a.delay_ms}
    if isinstance(a, CancelTimer):
        return {"type": "CancelTimer", "name": a.name}
    if isinstance(a, RequestProposal):
        return {"type": "RequestProposal", "height": a.height, "view": a.view, "prev_hash": a.prev_hash.hex()}
    if isinstance(a, CommitBlock):
        return {"type": "CommitBlock", "height": a.height, "block": a.block.hex(),
                "certificate": encode(a.certificate).hex()}
    assert isinstance(a, Fetch)
    return {"type": "Fetch", "from_height": a.from_height, "peers": list(a.peers)}


class Scenario:
    """One replica driven event by event; every step's actions and refusals recorded."""

    def __init__(self, name: str, about: str, me: int, persisted: SafetyRecord | None = None) -> None:
        self.name, self.about, self.me, self.persisted = name, about, me, persisted
        self.st: ReplicaState = init_state(GENESIS, me, CHAIN_ID, sim_key(me), APP, persisted=persisted)
        self.steps: list[dict[str, Any]] = []
        self.last: list[Action] = []

    def ev(self, event: Event, note: str = "") -> list[Action]:
        before = Counter(self.st.stats.rejected)
        self.st, self.last = step(self.st, event)
        refused = Counter(self.st.stats.rejected)
        refused.subtract(before)
        entry: dict[str, Any] = {"event": event_json(event),
                                 "actions": [action_json(a) for a in self.last],
                                 "refused": sorted(c for c, k in refused.items() for _ in range(k))}
        if note:
            entry = {"note": note, **entry}
        self.steps.append(entry)
        return self.last

    def recv(self, m: ConsensusMessage, note: str = "", at_ms: int = T0) -> list[Action]:
        return self.ev(Received(m, at_ms), note)

    def token(self, name: str) -> int:
        return next(a.token for a in reversed(self.last) if isinstance(a, SetTimer) and a.name == name)

    def sent(self, kind: type) -> ConsensusMessage:
        return next(a.message for a in self.last if isinstance(a, Send) and isinstance(a.message.body, kind))

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "about": self.about, "replica": self.me,
                "persisted": None if self.persisted is None else encode(self.persisted).hex(),
                "steps": self.steps}


# --- scenarios ---------------------------------------------------------------------


def normal_case() -> list[Scenario]:
    """Backup 1 commits heights 1 and 2 in view 0, then the checkpoint at 2 stabilizes."""
    s = Scenario("normal case and checkpoint",
                 "backup 1: PRE-PREPARE, 2f PREPAREs and 2f+1 COMMITs commit heights 1 and 2 in view 0 "
                 "(§4.2); executing 2 sends a CHECKPOINT, two more make it stable (§4.3), which moves "
                 "the watermarks: a PREPARE at height 5 refused before is accepted after", 1)
    s.ev(Start(), "arms the view timer")
    b1 = block(1, CHAIN_ID)
    d1 = digest(b1)
    s.recv(msg(0, PrePrepare(0, 1, d1), (b1,)), "timely, valid: persist then PREPARE")
    s.recv(msg(2, Prepare(0, 1, d1)), "2f matching PREPAREs from backups (its own and 2's): prepared, "
           "persist then COMMIT")
    s.recv(msg(3, Prepare(0, 1, d1)), "one more PREPARE: nothing new")
    s.recv(msg(0, Commit(0, 1, d1)), "own + 1 commit")
    s.recv(msg(2, Commit(0, 1, d1)), "2f+1 commits: CommitBlock with the certificate, timer re-armed")
    r1 = root_after(1, d1)
    s.ev(Executed(1, r1), "height 1 is not a checkpoint height (K = 2): nothing")
    b2 = block(2, d1, time_ms=T0 + 10)
    d2 = digest(b2)
    s.recv(msg(2, Prepare(0, 5, d1)), "height 5 > H = 0 + 2K: refused", T0 + 10)
    s.recv(msg(0, PrePrepare(0, 2, d2), (b2,)), at_ms=T0 + 10)
    s.recv(msg(2, Prepare(0, 2, d2)), at_ms=T0 + 10)
    s.recv(msg(3, Prepare(0, 2, d2)), at_ms=T0 + 10)
    s.recv(msg(3, Commit(0, 2, d2)), at_ms=T0 + 10)
    s.recv(msg(0, Commit(0, 2, d2)), "committed", T0 + 10)
    r2 = root_after(2, d2)
    s.ev(Executed(2, r2), "checkpoint height: sends CHECKPOINT(2, d2, root)")
    s.recv(msg(0, Checkpoint(2, d2, r2)), "2 of 2f+1")
    s.recv(msg(3, Checkpoint(2, d2, r2)), "2f+1 matching, executed to the same state: stable, h = 2, H = 6")
    s.recv(msg(2, Prepare(0, 2, d2)), "height 2 <= h: garbage-collected, dropped silently")
    s.recv(msg(3, Prepare(0, 5, d1)), "height 5 is inside the new window: accepted; f+1 validators (2, 3) "
           "now speak of a height above the next one (3): fetch certified blocks")
    b3 = block(3, d2, time_ms=T0 + 20)
    s.recv(msg(0, PrePrepare(0, 3, digest(b3)), (b3,)),
           "the persisted record now holds the stable checkpoint proof of height 2", T0 + 20)

    p = Scenario("primary proposes", "primary 0 asks for a block, signs and multicasts the PRE-PREPARE "
                 "with the block carried alongside (§4.2)", 0)
    p.ev(Start(), "primary of view 0: RequestProposal(1, 0, chain id)")
    p.ev(ProposalReady(1, 0, block(1, CHAIN_ID)), "persist, then PRE-PREPARE with the block")
    p.ev(ProposalReady(1, 0, block(1, CHAIN_ID, nonce=1)), "a second block for height 1: refused")
    return [s, p]


def view_change() -> list[Scenario]:
    """A block prepared in view 0 but not committed is carried into view 1 and commits there."""
    b1 = block(1, CHAIN_ID)
    d1 = digest(b1)
    proof = prepared(0, 1, d1, (1, 2))
    cp0 = genesis_checkpoint(CHAIN_ID)

    s = Scenario("prepared certificate carried through a view change",
                 "replica 1 prepares height 1 in view 0; replicas 2 and 3 ask for view 1 (f+1: it joins, "
                 "§4.5.2); as primary of view 1 with 2f+1 VIEW-CHANGEs it sends NEW-VIEW whose O "
                 "re-proposes the prepared block (§4.4); 2f PREPAREs and 2f+1 COMMITs of view 1 commit it", 1)
    s.ev(Start())
    s.recv(msg(0, PrePrepare(0, 1, d1), (b1,)))
    s.recv(msg(2, Prepare(0, 1, d1)), "prepared in view 0: COMMIT sent, but the commits never come")
    s.recv(msg(3, Prepare(0, 1, d1)))
    vc2 = ViewChange(1, cp0, (proof,))
    vc3 = ViewChange(1, cp0, ())
    s.recv(msg(2, vc2, (b1,)), "one VIEW-CHANGE for view 1 (with P for height 1)")
    s.recv(msg(3, vc3), "f+1 others want view 1: join (persist, VIEW-CHANGE with P and the block); "
           "2f+1 in: NEW-VIEW, enter view 1")
    nv, vc1 = s.sent(NewView), s.sent(ViewChange)
    s.recv(msg(2, Prepare(1, 1, d1)), at_ms=T0 + 500)
    s.recv(msg(3, Prepare(1, 1, d1)), "prepared in view 1: COMMIT", T0 + 500)
    s.recv(msg(2, Commit(1, 1, d1)), at_ms=T0 + 500)
    s.recv(msg(3, Commit(1, 1, d1)), "committed in view 1 with a view-1 certificate", T0 + 500)

    r = Scenario("NEW-VIEW recomputed by a backup",
                 "backup 2, which prepared height 1 in view 0, checks replica 1's NEW-VIEW: every "
                 "VIEW-CHANGE in V verifies and O equals what it computes from V itself (§4.4); a "
                 "NEW-VIEW from another sender or with O altered is refused first", 2)
    r.ev(Start())
    r.recv(msg(0, PrePrepare(0, 1, d1), (b1,)))
    r.recv(msg(1, Prepare(0, 1, d1)), "prepared in view 0")
    r.recv(msg(3, Prepare(0, 1, d1)))
    assert isinstance(nv.body, NewView)
    r.recv(vc1, "replica 1's VIEW-CHANGE for view 1 (from the scenario above)")
    r.recv(msg(3, vc3), "f+1: replica 2 joins view 1 (its VIEW-CHANGE carries its own P)")
    no_o = NewView(1, nv.body.view_changes, ())
    r.recv(msg(1, no_o), "O without the prepared block: it differs from the recomputed O")
    forged = nv.body.pre_prepares[0]
    other = NewView(1, nv.body.view_changes,
                    (NewViewEntry(forged.height, digest(block(1, CHAIN_ID, nonce=9)), forged.signature),))
    r.recv(msg(1, other), "O with another block at height 1")
    r.recv(msg(3, nv.body, nv.blocks), "the genuine NEW-VIEW signed by a non-primary: refused")
    r.ev(Received(nv, T0 + 500), "the genuine NEW-VIEW: recomputed, accepted, view 1 entered, "
         "height 1 prepared again (no timeliness check for a re-proposal)")
    return [s, r]


def refusals() -> list[Scenario]:
    """One refused input for each consensus error code that step can raise."""
    out: list[Scenario] = []
    b1 = block(1, CHAIN_ID)
    d1 = digest(b1)

    s = Scenario("refused messages", "backup 1 after Start: each message below is refused with its "
                 "code and changes nothing", 1)
    s.ev(Start())
    bad_sig = ConsensusMessage(0, PrePrepare(0, 1, d1), sign(2, PrePrepare(0, 1, d1)), (b1,))
    s.recv(bad_sig, "signed by validator 2's key, claims sender 0: CONSENSUS_BAD_SIGNATURE")
    s.recv(ConsensusMessage(4, Prepare(0, 1, d1), bytes(64)), "sender 4 of 4 validators: CONSENSUS_NOT_VALIDATOR")
    s.recv(msg(2, PrePrepare(0, 1, d1), (b1,)), "PRE-PREPARE from a backup: CONSENSUS_BAD_MESSAGE")
    s.recv(msg(0, PrePrepare(0, 1, d1)), "PRE-PREPARE without its block: CONSENSUS_BAD_MESSAGE")
    s.recv(msg(0, Prepare(0, 1, d1)), "PREPARE from the primary: CONSENSUS_BAD_MESSAGE")
    s.ev(ProposalReady(1, 0, b1), "a proposal for a view it does not lead: CONSENSUS_WRONG_VIEW")
    s.recv(msg(2, Prepare(0, 9, d1)), "height 9 above H = 4: CONSENSUS_OUT_OF_WINDOW")
    s.recv(msg(2, Checkpoint(10, d1, bytes(32))), "checkpoint above H + 2K = 8: CONSENSUS_OUT_OF_WINDOW")
    s.ev(Executed(1, bytes(32)), "Executed for a height not committed: CONSENSUS_BAD_MESSAGE")
    late = block(1, CHAIN_ID, time_ms=T0 - PRECISION_MS - DELAY_MS - 1)
    s.recv(msg(0, PrePrepare(0, 1, digest(late)), (late,)),
           "block time 1 ms before the timeliness window: logged, CONSENSUS_UNTIMELY, no PREPARE")
    s.recv(msg(0, PrePrepare(0, 1, d1), (b1,)), "another digest for (0, 1) from the primary: CONSENSUS_CONFLICT")
    s.recv(msg(2, Prepare(0, 2, d1)))
    s.recv(msg(2, Prepare(0, 2, digest(late))), "validator 2 prepares a second digest at (0, 2): CONSENSUS_CONFLICT")
    s.recv(msg(3, Checkpoint(2, d1, bytes(32))))
    s.recv(msg(3, Checkpoint(2, d1, b"\x01" * 32)), "a second checkpoint at height 2: CONSENSUS_CONFLICT")
    weak = PreparedProof(0, 1, d1, sign(0, PrePrepare(0, 1, d1)), (VoteSig(2, sign(2, Prepare(0, 1, d1))),))
    s.recv(msg(3, ViewChange(1, genesis_checkpoint(CHAIN_ID), (weak,))),
           "a prepared proof with one PREPARE (2f needed): CONSENSUS_BAD_VIEW_CHANGE")
    vcs = tuple(SignedViewChange(i, ViewChange(2, genesis_checkpoint(CHAIN_ID), ()),
                                 sign(i, ViewChange(2, genesis_checkpoint(CHAIN_ID), ()))) for i in (0, 2, 3))
    s.recv(msg(3, NewView(2, vcs, ())), "NEW-VIEW for view 2 from validator 3, not primary(2) = 2: "
           "CONSENSUS_BAD_NEW_VIEW")
    s.recv(msg(2, NewView(2, vcs[:2], ())), "NEW-VIEW with 2 VIEW-CHANGEs (2f+1 needed): CONSENSUS_BAD_NEW_VIEW")
    out.append(s)

    c = Scenario("refused fetched blocks", "backup 1 catching up: certified blocks are committed in order; "
                 "a certificate short of 2f+1, or a certified block that is invalid, is refused (§4.3 "
                 "state transfer; the block rules decide validity)", 1)
    c.ev(Start())
    c.ev(FetchedBlocks(((b1, cert(1, 0, d1, (0, 2))),)), "2 signatures (2f+1 needed): CONSENSUS_BAD_CERTIFICATE")
    c.ev(FetchedBlocks(((block(1, CHAIN_ID, nonce=1), cert(1, 0, d1)),)),
         "a block that is not the certified one: CONSENSUS_BAD_CERTIFICATE")
    bad = block(1, CHAIN_ID, valid=False)
    c.ev(FetchedBlocks(((bad, cert(1, 0, digest(bad))),)), "certified but invalid: CONSENSUS_INVALID_BLOCK")
    c.ev(FetchedBlocks(((b1, cert(1, 0, d1)),)), "valid: CommitBlock")
    out.append(c)

    g = Scenario("invalid block proposed", "backup 1 gets a PRE-PREPARE whose block the application "
                 "refuses: CONSENSUS_INVALID_BLOCK, no PREPARE, and it starts the view change to 1 at "
                 "once (every honest replica reaches the same verdict); replica 2 had already asked "
                 "for view 1", 1)
    g.ev(Start())
    vc = ViewChange(1, genesis_checkpoint(CHAIN_ID), ())
    g.recv(msg(2, vc), "one VIEW-CHANGE for view 1: kept")
    bad = block(1, CHAIN_ID, valid=False)
    g.recv(msg(0, PrePrepare(0, 1, digest(bad)), (bad,)), "invalid block: refused, view change to 1 at once")
    out.append(g)

    return out


def init_refusals() -> list[dict[str, Any]]:
    """``init_state`` refusals: they happen before any step (CONSENSUS_BAD_RECORD, NOT_VALIDATOR)."""
    st = init_state(GENESIS, 1, CHAIN_ID, sim_key(1), APP)
    rec = record(st)
    cases: list[dict[str, Any]] = []

    def case(name: str, me: int, key: int, persisted: SafetyRecord | None) -> None:
        try:
            init_state(GENESIS, me, CHAIN_ID, sim_key(key), APP, persisted=persisted)
        except ConsensusError as e:
            cases.append({"name": name, "replica": me, "key_seed": seed(key).hex(),
                          "persisted": None if persisted is None else encode(persisted).hex(),
                          "error": str(e.code)})
            return
        raise AssertionError(f"{name} was accepted")

    case("another validator's key", 1, 2, None)
    case("a record of validator 1 restored as validator 3", 3, 3, rec)
    forged = SafetyRecord(rec.chain_id, 1, 0, True,
                          CheckpointProof(2, bytes(32), bytes(32), ()),
                          (), (), None, (), ())
    case("a record whose checkpoint proof has no signatures", 1, 1, forged)
    stray = SafetyRecord(rec.chain_id, 1, 0, True, rec.checkpoint, (), (), None, (), (block(1, CHAIN_ID),))
    case("a record holding a block it did not prepare", 1, 1, stray)
    return cases


def idle_case() -> Scenario:
    """The view timer counts only while waiting for a request (§4.4)."""
    s = Scenario("view timer waits for a request",
                 "backup 1, told by its node that no client work is pending, re-arms its view timer "
                 "on expiry instead of changing view (a stray PREPARE is no request); reported work "
                 "starts the timer with its full delay, and so does a PRE-PREPARE arriving while "
                 "idle (the request is in it); expiring while that proposal waits, it moves to view 1 "
                 "(§4.4)", 1)
    s.ev(Start(), "arms the view timer")
    s.ev(ClientWork(False), "the node has no transaction and no election to close: nothing yet")
    s.ev(TimerFired("view", s.st.timers.view_token), "not waiting for a request: re-armed, no view change")
    s.recv(msg(3, Prepare(0, 1, bytes(range(32)))), "a PREPARE for a block nobody proposed: no request")
    s.ev(TimerFired("view", s.st.timers.view_token), "still idle: re-armed")
    idle_token = s.st.timers.view_token
    s.ev(ClientWork(True), "a transaction arrived: the timer starts now, full delay")
    s.ev(TimerFired("view", idle_token), "the idle timer's token is stale: nothing")
    s.ev(ClientWork(False), "the transaction left the pool (e.g. it expired): nothing")
    b1 = block(1, CHAIN_ID)
    s.recv(msg(0, PrePrepare(0, 1, digest(b1)), (b1,)),
           "a proposal while idle: PREPARE, and the timer starts now (the request is in it)")
    s.ev(TimerFired("view", s.st.timers.view_token), "the proposal has not committed: VIEW-CHANGE for view 1")
    return s


def restart_case(prior: Scenario) -> Scenario:
    """Restore from the last Persist of ``prior`` and Start: the same VIEW-CHANGE is re-sent."""
    persists = [bytes.fromhex(a["record"]) for s in prior.steps for a in s["actions"] if a["type"] == "Persist"]
    rec = decode(SafetyRecord, persists[-1])
    s = Scenario("restart from a safety record",
                 "replica 1, restored from the last record it persisted in 'invalid block proposed' "
                 "(changing to view 1), starts again: it re-sends the very VIEW-CHANGE it persisted "
                 "(same bytes: Ed25519 is deterministic) and re-arms its timer", 1, rec)
    s.ev(Start(), "the same VIEW-CHANGE again, no new vote")
    return s


def generate() -> dict[str, Any]:
    scenarios = normal_case() + view_change()
    ref = refusals()
    scenarios += ref[:3]
    scenarios.append(restart_case(ref[2]))
    scenarios.append(idle_case())
    return {
        "description": "Ballotchain PBFT step vectors: one replica, events in, actions out "
                       "(consensus.replica.step). Format: README.md.",
        "params": {"n": N, "f": F, "checkpoint_interval": INTERVAL, "view_timeout_ms": TIMEOUT_MS,
                   "time_precision_ms": PRECISION_MS, "time_msg_delay_ms": DELAY_MS},
        "genesis": encode(GENESIS).hex(),
        "chain_id": CHAIN_ID.hex(),
        "validators": [{"index": i, "seed": seed(i).hex(), "ed25519_public": sim_key(i).ed25519_public.hex()}
                       for i in range(N)],
        "scenarios": [s.json() for s in scenarios],
        "init_refusals": init_refusals(),
    }


def render() -> str:
    return json.dumps(generate(), indent=1) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        same = OUT.exists() and OUT.read_text() == text
        print("up to date" if same else f"{OUT} differs from a fresh run")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
