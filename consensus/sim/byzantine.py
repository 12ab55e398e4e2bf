"""Byzantine behaviours: a faulty validator runs a real replica and tampers with its output.

* ``silent``: never runs (crash-stop from the start);
* ``equivocate``: as primary sends one block to half the replicas and another to the rest,
  and votes for both;
* ``forge``: also sends copies with corrupted signatures, impersonates other validators,
  sends as a non-validator (index out of range, or an outsider's key);
* ``replay``: also re-sends old messages it has seen (valid signatures, stale content);
* ``wrongview``: also sends re-signed copies with shifted view or height;
* ``invalid``: as primary proposes blocks the application rejects; serves forged
  certificates and invalid blocks to replicas that fetch from it;
* ``twin``: two instances of one validator, both running honest code (equivocation by
  accident, as when an operator starts a node twice);
* ``badtime``: as primary proposes blocks whose time is chosen to cheat the clock: far in
  the past (to hold an election open), far ahead (to close it early), or just inside or
  just outside the timeliness window (``consensus.timeliness``);
* ``withhold`` (schedules with client work only, ``schedules.IDLE_SEEDS``): votes like an
  honest replica but as primary never proposes, however much work is pending: it must
  still be replaced (the view timer counts while requests wait, ``replica.timers``);
* ``stray`` (likewise): votes like an honest replica and, at every timer expiry, also sends
  a PREPARE and a COMMIT for a block nobody proposed at the next height: in an idle
  network that must cause no view change;
* ``lure`` (named scenarios only, not in the generated mix): votes like an honest replica
  but also keeps a VIEW-CHANGE for the view above the current one standing, posing as a
  replica left alone there, to make the others sync up (``replica.view_sync.sync_target``) as often
  as the rule allows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ballot_tx.codec import encode
from ballot_tx.keys import KeyPair
from consensus.certificate import CommitCertificate
from consensus.events import RequestProposal
from consensus.messages import (
    Commit,
    ConsensusMessage,
    Prepare,
    PrePrepare,
    ViewChange,
    VoteSig,
)
from consensus.sim.app import block_time, make_block
from consensus.sim.base import sim_key

if TYPE_CHECKING:
    from consensus.sim.world import Instance, Simulation

BEHAVIOURS = ("silent", "equivocate", "forge", "replay", "wrongview", "invalid", "twin", "badtime")
#: behaviours drawn too when clients go idle (not in BEHAVIOURS: the schedules of other
#: seeds stay as they were)
IDLE_BEHAVIOURS = ("withhold", "stray")
OUTSIDER = KeyPair.from_seed(b"outsider" * 4)

Out = list[tuple[ConsensusMessage, int | None]]


class Adversary:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.rng = sim.rng
        self.seen: list[ConsensusMessage] = []
        self.alt: dict[tuple[int, int], bytes] = {}  # (view, height) -> second block hash
        self.lured: set[int] = set()  # views a lure posed as stuck in
        self.strays = 0  # stray PREPARE/COMMITs sent

    def _sign(self, index: int, body: PrePrepare | Prepare | Commit | ViewChange) -> bytes:
        return sim_key(index).sign(body.KIND, self.sim.chain_id, encode(body))

    def observe(self, msg: ConsensusMessage) -> None:
        if len(self.seen) < 2000 and self.rng.random() < 0.2:
            self.seen.append(msg)

    # --- what a faulty validator sends ------------------------------------------------------

    def outgoing(self, inst: Instance, msg: ConsensusMessage, to: int | None) -> Out:
        role = inst.role
        out: Out = [(msg, to)]
        if role in ("honest", "twin"):
            return out
        body = msg.body
        n = self.sim.cfg.n
        if role == "equivocate":
            return self._equivocate(inst, msg, to)
        if role == "lure" and isinstance(body, Commit):  # re-sent, as a stuck replica does
            self.lured.add(body.view + 1)
            assert inst.state.log.stable is not None
            vc = ViewChange(body.view + 1, inst.state.log.stable, ())
            out.append((ConsensusMessage(inst.index, vc, self._sign(inst.index, vc)), None))
        if role == "forge" and self.rng.random() < 0.5:
            k = self.rng.randrange(4)
            if k == 0:
                bad = bytes([msg.signature[0] ^ 1]) + msg.signature[1:]
                out.append((replace(msg, signature=bad), to))
            elif k == 1:
                out.append((replace(msg, sender=self.rng.randrange(n)), to))
            elif k == 2:
                out.append((replace(msg, sender=n + self.rng.randrange(3)), to))
            else:
                sig = OUTSIDER.sign(type(body).KIND, self.sim.chain_id, encode(body))
                out.append((replace(msg, sender=self.rng.randrange(n), signature=sig), to))
        elif role == "replay" and self.seen:
            for _ in range(self.rng.randrange(3)):
                out.append((self.rng.choice(self.seen), None))
        elif role == "wrongview" and isinstance(body, PrePrepare | Prepare | Commit):
            dv, dh = self.rng.choice([(1, 0), (-1, 0), (0, 1), (0, -1), (5, 3)])
            v, h = max(0, body.view + dv), max(1, body.height + dh)
            wrong = type(body)(v, h, body.block_hash)
            out.append((ConsensusMessage(inst.index, wrong, self._sign(inst.index, wrong)), to))
        return out

    def _equivocate(self, inst: Instance, msg: ConsensusMessage, to: int | None) -> Out:
        body = msg.body
        n = self.sim.cfg.n
        others = [i for i in range(n) if i != inst.index]
        if isinstance(body, PrePrepare) and msg.blocks:
            from consensus.sim.app import parse_block

            parsed = parse_block(msg.blocks[0])
            assert parsed is not None
            t = block_time(msg.blocks[0])
            alt_block = make_block(
                body.height, parsed[1], inst.index, self.rng.randrange(1 << 32), True, t or 0
            )
            d2 = self.sim.made(alt_block)
            self.alt[(body.view, body.height)] = d2
            alt = PrePrepare(body.view, body.height, d2)
            alt_msg = ConsensusMessage(inst.index, alt, self._sign(inst.index, alt), (alt_block,))
            self.rng.shuffle(others)
            half = len(others) // 2
            split: Out = [(msg, i) for i in others[:half]]
            return split + [(alt_msg, i) for i in others[half:]]
        if isinstance(body, Prepare | Commit):
            other = self.alt.get((body.view, body.height))
            out: Out = [(msg, to)]
            if other is not None:
                vote = type(body)(body.view, body.height, other)
                out.append((ConsensusMessage(inst.index, vote, self._sign(inst.index, vote)), to))
            return out
        return [(msg, to)]

    def on_timer(self, inst: Instance) -> None:
        """A faulty instance's timer expired: a stray backup votes for a block nobody
        proposed at its next height, in its view."""
        if inst.role != "stray":
            return
        st = inst.state
        for body in (
            Prepare(st.view, st.log.last_committed + 1, self.rng.randbytes(32)),
            Commit(st.view, st.log.last_committed + 1, self.rng.randbytes(32)),
        ):
            msg = ConsensusMessage(inst.index, body, self._sign(inst.index, body))
            self.sim.inv.observe_signed(msg)
            self.sim.broadcast(inst.index, msg, None)
            self.strays += 1

    # --- proposals and fetch answers ------------------------------------------------------------

    def propose(self, inst: Instance, a: RequestProposal) -> None:
        if inst.role == "withhold":
            return
        if inst.role not in ("invalid", "badtime"):
            self.sim.propose(inst, a)
            return
        now = self.sim.clock(inst.index)
        if inst.role == "invalid":
            block = make_block(a.height, a.prev_hash, inst.index, self.rng.randrange(1 << 32), False, now)
        else:
            p, d = self.sim.cfg.time_precision_ms, self.sim.cfg.msg_delay_ms
            offset = self.rng.choice([-10 * (p + d), -(p + d) - p - 1, -(p + d) + 1, p - 1, 2 * p + 1, 10 * p])
            block = make_block(a.height, a.prev_hash, inst.index, self.rng.randrange(1 << 32), True, now + offset)
        pp = PrePrepare(a.view, a.height, self.sim.made(block))
        msg = ConsensusMessage(inst.index, pp, self._sign(inst.index, pp), (block,))
        self.sim.inv.observe_signed(msg)
        self.sim.broadcast(inst.index, msg, None)

    def fetch_answer(
        self, src: Instance, from_height: int
    ) -> tuple[tuple[bytes, CommitCertificate], ...]:
        blocks = self.sim.chain_slice(src, from_height)
        if src.role not in ("invalid", "forge") or not blocks:
            return blocks
        block, cert = blocks[0]
        if self.rng.random() < 0.5:  # a certificate with a forged signature
            sigs = list(cert.sigs)
            sigs[0] = VoteSig(sigs[0].validator, bytes(64))
            return ((block, replace(cert, sigs=tuple(sigs))),)
        # an invalid block with a certificate from one faulty signer, repeated
        fake = make_block(from_height, bytes(32), src.index, 7, False, self.sim.now)
        d = self.sim.app.block_hash(fake)
        body = Commit(cert.view, from_height, d)
        sig = self._sign(src.index, body)
        q = 2 * self.sim.cfg.f + 1
        return ((fake, CommitCertificate(from_height, cert.view, d, (VoteSig(src.index, sig),) * q)),)
