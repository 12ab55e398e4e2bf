"""The public ballot box at city scale: index a chain of N ballots, then page, search and look up.

    PYTHONPATH=. .venv/bin/python scripts/bench_ballotbox.py [--ballots 100000]

Indexing decodes each ballot transaction once (one real encrypted ballot of the browser
poll, re-signed per voter, so the bytes and their size are real); the listing, the search
by the first characters and the short-form lookup then work on the in-memory index.
"""

from __future__ import annotations

import argparse
import time

from ballot_tx.codec import encode
from ballot_tx.crypto import group
from ballot_tx.crypto.ballot import encrypt_ballot
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import election_id
from ballot_tx.tx import CastBallot, decode_tx, forget_decoded, sign_tx
from harness.webpoll import poll_manifest
from node.ballotbox import BallotBox


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ballots", type=int, default=100_000)
    n = ap.parse_args().ballots
    trustees = [KeyPair.from_seed(bytes([i]) * 32) for i in (1, 2, 3)]
    m = poll_manifest("bench", trustees, "registered-key", 1_780_000_000_000)
    eid = election_id(m)
    election_key = group.base(group.sc(7))  # a canonical ristretto255 point, as a joint key is
    voter = KeyPair.from_seed(b"\x09" * 32)
    ballot, _ = encrypt_ballot(m, election_key, voter.ed25519_public,
                               ((1, 0, 0), (1, 1, 0), (70, 100, 30)))
    raw = encode(sign_tx(voter, bytes(32), CastBallot(eid, ballot), 1))
    t = time.perf_counter()
    for _ in range(200):
        forget_decoded()  # a cold decode each time (decode_tx remembers what it decoded)
        decode_tx(raw)
    decode_ms = (time.perf_counter() - t) / 200 * 1000
    scratch = BallotBox(lambda h: None)
    t = time.perf_counter()
    for _ in range(1000):
        scratch._add(raw, 1)  # noqa: SLF001 - the indexing path itself
    add_ms = (time.perf_counter() - t) / 1000 * 1000
    print(f"one ballot transaction: {len(raw)} bytes; typed decode {decode_ms:.2f} ms, "
          f"indexed in {add_ms:.3f} ms (indexing {n:,} ballots: about {add_ms * n / 1000:.1f} s)")
    box = BallotBox(lambda h: None)
    t = time.perf_counter()
    import hashlib

    for i in range(n):
        code = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
        box.insert(code, eid, 1 + i // 200, "cast", (i % (n - n // 10)).to_bytes(32, "big"))
    print(f"inserting {n:,} entries into the index: {time.perf_counter() - t:.2f} s")
    for what, fn in [
        ("first page of 100", lambda: box.listing(eid, "", 0, 100)),
        ("last page of 100", lambda: box.listing(eid, "", n - 100, 100)),
        ("search by 4 characters", lambda: box.listing(eid, "3f2a", 0, 100)),
        ("lookup by short form", lambda: box.lookup(next(iter(box.by_code))[:16])),
    ]:
        t = time.perf_counter()
        for _ in range(20):
            fn()
        print(f"{what}: {(time.perf_counter() - t) / 20 * 1000:.3f} ms")


if __name__ == "__main__":
    main()
