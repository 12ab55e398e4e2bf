"""What an operator reads of a running node: one log line per event worth knowing.

The runtime calls a handful of hooks (``committed``, ``stepped``, ``rejected``) and
runs ``Operations.run``; every line an operator reads is decided here, so the
runtime stays about consensus and I/O (the figures ``/metrics`` computes at scrape time,
the elections tracked here among them, are ``node/live_figures.py``). Event names and
field names are stable (docs/operations.md lists them; ``tests/deploy/test_ops_logs.py``
checks them):

=====================  ==================================================================
event                  fields
=====================  ==================================================================
``block committed``    height, txs, bytes, since_proposal_ms, proposer, view
``view change``        from_view, to_view, reason (timeout | peers | new-view | catch-up)
``view installed``     view, primary
``txs rejected``       code, count, interval_s (one line per code per interval)
``election phase``     election, from_phase, to_phase, height, registered, ballots
``peer state``         peer, state (reachable | unreachable), height
``catch-up started``   height, peer_height
``catch-up done``      height, blocks, seconds
=====================  ==================================================================

Rejections are counted and written once per ``REJECT_INTERVAL_S`` per code, so a flood
of bad transactions costs a line per code, not a line per transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ballot_tx.block import Block
from ballot_tx.codec import decode, unpack
from ballot_tx.errors import BallotchainError
from ballot_tx.keys import node_id
from ballot_tx.manifest import election_id
from ballot_tx.state.records import KEY_OPEN, PHASE_NAMES, OpenElections, Phase
from ballot_tx.state.snapshot import State
from ballot_tx.tx import CreateElection, Tx, decode_tx
from consensus.events import Event, FetchedBlocks, Received, TimerFired
from consensus.messages import NewView, ViewChange
from node import logs
from node.metrics import Metrics

log = logs.get("ops")

REJECT_INTERVAL_S = 10.0
MAX_TX = Tx.MAX_SIZE
TICK_S = 1.0
#: Elections shown in /metrics: the open ones and the most recently changed others.
MAX_ELECTIONS_SHOWN = 50


def phase_name(p: int) -> str:
    try:
        return PHASE_NAMES[Phase(p)]
    except ValueError:
        return str(p)


def view_change_reason(ev: Event) -> str:
    """Why this event moved the replica to another view."""
    if isinstance(ev, TimerFired):
        return "timeout"
    if isinstance(ev, Received):
        body = ev.message.body
        if isinstance(body, NewView):
            return "new-view"
        if isinstance(body, ViewChange):
            return "peers"
    if isinstance(ev, FetchedBlocks):
        return "catch-up"
    return type(ev).__name__


Sample = tuple[list["PeerFigures"], bool, int, int]  # peers, catching up, height, best peer tip


def election_touched(raw: bytes) -> bytes | None:
    """The election a committed transaction is about (None if unknown).

    A full ``decode_tx`` of a ballot costs ~0.5 ms; the plain msgpack tree is
    enough here (the block was validated before commit): every body but a create
    names its election first. A wrong guess only means no phase line for it.
    """
    try:
        body = unpack(raw, MAX_TX)[0]
        tag, fields = body
        if tag == CreateElection.TAG:
            body = decode_tx(raw).body
            return election_id(body.manifest) if isinstance(body, CreateElection) else None
        first = fields[0]
    except (BallotchainError, TypeError, ValueError, IndexError):
        return None
    return first if isinstance(first, bytes) and len(first) == 32 else None


@dataclass
class PeerFigures:
    """One peer as this node sees it (for /metrics)."""

    name: str
    reachable: bool
    height: int | None


class Operations:
    """Operator log lines, and the elections they track (``elections``: what /metrics shows)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.rejects: Counter[str] = Counter()
        self._rejects_since = time.monotonic()
        self.last_block_ms: int | None = None
        self.phases: dict[bytes, int] = {}
        self._order: dict[bytes, int] = {}  # election -> height of its last phase change
        self._counts: dict[bytes, tuple[int, int, int, int]] = {}
        self.peer_up: dict[str, bool] = {}
        self.catch_since: float | None = None
        self.catch_from = 0

    # --- hooks the runtime calls ------------------------------------------------------

    def resume(self, state: State) -> None:
        """Start tracking from a store that already holds blocks (after a restart)."""
        self.last_block_ms = state.time_ms if state.height else None
        raw = state.get(KEY_OPEN)
        if raw is not None:
            for eid in decode(OpenElections, raw).ids:
                self._track(state, eid)

    def committed(self, block: Block, size: int, view: int | None, state: State) -> None:
        h = block.header
        now_ms = time.time() * 1000
        since = max(0, round(now_ms - h.time_ms))
        self.metrics.block_bytes.observe(size)
        if self.last_block_ms is not None:
            self.metrics.block_interval.observe(max(0.0, (h.time_ms - self.last_block_ms) / 1000))
        self.last_block_ms = h.time_ms
        log.info("block committed", height=h.height, txs=len(block.txs), bytes=size,
                 since_proposal_ms=since, proposer=node_id(h.proposer)[:12], view=view)
        touched = {e for e in map(election_touched, block.txs) if e is not None}
        # an election's end time closes it in a block without any of its transactions
        raw_open = state.get(KEY_OPEN)
        open_ids = set() if raw_open is None else set(decode(OpenElections, raw_open).ids)
        for eid in touched | open_ids | {e for e, p in self.phases.items() if p == Phase.OPEN}:
            self._track(state, eid)

    def _track(self, state: State, eid: bytes) -> None:
        status = state.election(eid)
        if status is None:
            return
        self._counts[eid] = (status.registered, status.ballots_cast, status.voters_voted, status.spoiled)
        old = self.phases.get(eid)
        if old != status.phase:
            self.phases[eid] = status.phase
            self._order[eid] = state.height
            log.info("election phase", election=eid.hex()[:16],
                     from_phase="none" if old is None else phase_name(old),
                     to_phase=phase_name(status.phase), height=state.height,
                     registered=status.registered, ballots=status.ballots_cast)

    def stepped(self, before: tuple[int, bool], after: tuple[int, bool], primary: int,
                ev: Event) -> str | None:
        """Log a view change this step started and a view it installed; returns the change's reason.

        The replica's ``view`` only grows: it moves to v+1 (inactive) when it starts a
        view change, further on repeated timeouts, and becomes active on NEW-VIEW.
        """
        (v0, a0), (v1, a1) = before, after
        reason = None
        if v1 > v0:
            reason = view_change_reason(ev)
            self.metrics.view_changes.labels(reason=reason).inc()
            log.info("view change", from_view=v0, to_view=v1, reason=reason)
        if a1 and (not a0 or v1 != v0):
            log.info("view installed", view=v1, primary=primary)
        return reason

    def rejected(self, code: str) -> None:
        self.rejects[code] += 1

    # --- periodic: rejections, peers, catch-up ---------------------------------------------

    def flush_rejects(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.rejects or not force and now - self._rejects_since < REJECT_INTERVAL_S:
            return
        interval = round(now - self._rejects_since, 1)
        for code, n in sorted(self.rejects.items()):
            log.info("txs rejected", code=code, count=n, interval_s=interval)
        self.rejects.clear()
        self._rejects_since = now

    def peers_seen(self, peers: Iterable[PeerFigures]) -> None:
        for p in peers:
            was = self.peer_up.get(p.name)
            if was is None and not p.reachable:
                self.peer_up[p.name] = False  # never seen yet: not a change worth a line
                continue
            if was != p.reachable:
                self.peer_up[p.name] = p.reachable
                log.info("peer state", peer=p.name,
                         state="reachable" if p.reachable else "unreachable", height=p.height)

    def catching_up_seen(self, catching: bool, height: int, peer_height: int) -> None:
        if catching and self.catch_since is None:
            self.catch_since, self.catch_from = time.monotonic(), height
            log.info("catch-up started", height=height, peer_height=peer_height)
        elif not catching and self.catch_since is not None:
            log.info("catch-up done", height=height, blocks=height - self.catch_from,
                     seconds=round(time.monotonic() - self.catch_since, 1))
            self.catch_since = None

    async def run(self, sample: Callable[[], Sample]) -> None:
        """Every second: peers and catch-up from ``sample()``; rejections every interval."""
        try:
            while True:
                await asyncio.sleep(TICK_S)
                peers, catching, height, best = sample()
                self.peers_seen(peers)
                self.catching_up_seen(catching, height, best)
                self.flush_rejects()
        finally:
            self.flush_rejects(force=True)

    # --- the tracked elections, for /metrics (node/live_figures.py) ------------------------------

    def elections(self) -> Iterator[tuple[bytes, int, tuple[int, int, int, int]]]:
        """(election id, phase, counts) of the elections worth showing: open ones first."""
        shown = sorted(self.phases, key=lambda e: (self.phases[e] != Phase.OPEN, -self._order[e]))
        for eid in shown[:MAX_ELECTIONS_SHOWN]:
            yield eid, self.phases[eid], self._counts[eid]
