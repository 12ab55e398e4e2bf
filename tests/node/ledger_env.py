"""A node's ledger on LevelDB over one open election with 8 registered voters, and the
ballots the ledger tests send it (valid, or with proofs that no longer fit)."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from pathlib import Path

from ballot_tx.codec import encode
from ballot_tx.tx import CastBallot
from harness.localchain import LocalChain
from node.ledger import Ledger
from node.store import Store
from tests.ballot_tx.state.helpers import VALIDATORS
from tests.ballot_tx.state.world import Election, World


@dataclasses.dataclass
class Env:
    w: World
    e: Election
    ledger: Ledger


def open_election(data_dir: Path) -> Generator[Env, None, None]:
    """Generator for a module fixture: the ledger stays open until the module ends."""
    w = World()
    store = Store(data_dir, w.genesis)
    w.chain = LocalChain(w.genesis, VALIDATORS, [store])
    e = w.open_election(w.manifest(), 8)
    yield Env(w, e, Ledger(store, w.genesis, w.cid))
    store.close()


def good(env: Env, i: int) -> bytes:
    return encode(env.w.cast(env.e, env.e.voters[i]))


def bad_proof(env: Env, i: int) -> bytes:
    """A ballot whose ciphertexts were swapped after its proofs were made."""
    b = env.w.ballot(env.e, env.e.voters[i])
    c0 = b.contests[0]
    cts = (c0.ciphertexts[1], c0.ciphertexts[0], *c0.ciphertexts[2:])
    b = dataclasses.replace(b, contests=(dataclasses.replace(c0, ciphertexts=cts),))
    return encode(env.w.tx(env.e.voters[i], CastBallot(env.e.eid, b)))
