"""Benchmark of block application (run through scripts/bench_apply).

A chain with one election (a 5-option single-choice contest, 3 trustees,
threshold 2) and N registered voters who each cast one ballot is built once
into a LevelDB under ``.bench/`` (ballots in blocks of 500). Then, in one run:

* bare verification: every ballot transaction decoded, its Ed25519 signature and its
  proofs checked (``decode_tx``, ``check_signature``, ``verify_ballot``): the floor,
  what any validator or auditor must spend on a ballot, defined as in
  ``scripts/bench_network`` and issue 16 ("bare rbcl proof checks plus Ed25519");
  the proofs alone are printed beside it;
* full apply: every block re-applied from genesis with no verify-once cache
  (decode, expiry, uniqueness, Ed25519 signature, eligibility, proofs, running
  tally, state records, LtHash root), as an auditor or a syncing node does;
* cached apply: the same with every verdict already in the ``MemoChecker`` (keyed
  by transaction hash and joint key), as a validator applies a block whose ballots
  its mempool admitted;
* (wall clock) full apply with each block's proofs first checked on all cores,
  as ``ballotchain audit --jobs`` does;
* the audit itself (``node.audit.audit_data_dir`` on the chain's LevelDB: replay,
  certificates, indexes, final tally and result check) with one job and with
  ``--jobs``: ballots per CPU-second of all its processes against bare verification
  (the per-core ratio), and ballots per second of wall clock.

It prints ballots/s for each (CPU time of this process, so that other load on the
machine does not skew the comparison) and the ratio of full apply to bare verification.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ballot_tx.checks import MemoChecker, ballot_key, signature_key  # noqa: E402
from ballot_tx.codec import encode, hash_bytes  # noqa: E402
from ballot_tx.crypto import trustees as tr  # noqa: E402
from ballot_tx.crypto.ballot import encrypt_ballot, verify_ballot  # noqa: E402
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys  # noqa: E402
from ballot_tx.keys import KeyPair  # noqa: E402
from ballot_tx.manifest import Contest, Label, Manifest, Option, TrusteeInfo, election_id  # noqa: E402
from ballot_tx.state.execute import apply_block  # noqa: E402
from ballot_tx.state.snapshot import MemoryBase, State  # noqa: E402
from ballot_tx.tx import (  # noqa: E402
    CastBallot,
    CreateElection,
    OpenElection,
    TrusteeCommit,
    TrusteeShares,
    acknowledgement,
    check_signature,
    decode_tx,
    forget_decoded,
    sign_tx,
)
from genesis.document import GENESIS_VERSION, Authority, Genesis, Member, genesis_hash  # noqa: E402
from genesis.localnet import DEFAULT_PARAMS  # noqa: E402
from harness.localchain import LocalChain  # noqa: E402
from node.audit import audit_data_dir  # noqa: E402
from node.heap import freeze_long_lived  # noqa: E402
from node.store import Store  # noqa: E402
from node.verify_ahead import ParallelVerifier  # noqa: E402

HOUR = 3_600_000
BLOCK = 500


def key(tag: str, i: int = 0) -> KeyPair:
    return KeyPair.from_seed(hash_bytes("bench-key", tag.encode() + i.to_bytes(4, "big")))


def genesis() -> Genesis:
    vals = [key("validator", i) for i in range(4)]
    admin, reg = key("admin"), key("registrar")
    return Genesis(
        GENESIS_VERSION,
        "bench-apply",
        1_800_000_000_000,
        tuple(Member(k.node_id, k.ed25519_public, k.x25519_public, f"127.0.0.1:{9100 + i}") for i, k in enumerate(vals)),
        (),
        (
            Authority("admin", "admin", admin.ed25519_public, admin.x25519_public),
            Authority("registrar", "registrar", reg.ed25519_public, reg.x25519_public),
        ),
        DEFAULT_PARAMS,
    )


def manifest(start: int, trustees: list[KeyPair]) -> Manifest:
    opts = tuple(Option(f"o{i}", Label(f"候補{i}", f"Candidate {i}"), None) for i in range(5))
    return Manifest(
        1,
        "bench",
        Label("ベンチ", "Bench"),
        (Contest("mayor", "single", Label("市長", "Mayor"), opts, 1, 1),),
        "registered-key",
        start,
        start + 30 * 24 * HOUR,
        True,
        tuple(TrusteeInfo(f"t{i}", k.ed25519_public, k.x25519_public) for i, k in enumerate(trustees)),
        2,
        bytes(32),
    )


def build(path: Path, n: int) -> None:
    """Make the chain (ballots are trusted while building: the benchmark re-verifies them)."""
    g = genesis()
    cid = genesis_hash(g)
    store = Store(path, g)
    chain = LocalChain(g, [key("validator", i) for i in range(4)], [store])
    admin, reg = key("admin"), key("registrar")
    trustees = [key("trustee", i) for i in range(3)]
    m = manifest(chain.next_time(), trustees)
    eid = election_id(m)

    def tx(k: KeyPair, body: object) -> object:
        return sign_tx(k, cid, body, chain.next_time() + 20 * HOUR)  # type: ignore[arg-type]

    chain.run([tx(admin, CreateElection(m))])  # type: ignore[list-item]
    coeffs = {i: tr.polynomial(m, i, k) for i, k in enumerate(trustees, 1)}
    coms = {i: tr.make_commitment(m, i, c) for i, c in coeffs.items()}
    chain.run([tx(trustees[i - 1], TrusteeCommit(eid, coms[i])) for i in coms])  # type: ignore[misc]
    posted = {i: TrusteeShares(eid, tr.make_shares(m, i, trustees[i - 1], coeffs[i], coms[i])) for i in coms}
    chain.run([tx(trustees[i - 1], posted[i]) for i in coms])  # type: ignore[misc]
    chain.run([tx(trustees[j - 1], acknowledgement(eid, j, posted)) for j in coms])  # type: ignore[misc]
    voters = [key("voter", i) for i in range(n)]
    regs = [
        tx(reg, RegisterKeys(eid, tuple(KeyEntry(v.ed25519_public, hash_bytes("tag", v.ed25519_public)) for v in voters[i : i + 1000])))
        for i in range(0, n, 1000)
    ]
    chain.run(regs)  # type: ignore[arg-type]
    chain.run([tx(admin, OpenElection(eid))])  # type: ignore[list-item]
    st = chain.state.election(eid)
    assert st is not None and st.joint_key is not None
    t0 = time.monotonic()
    for i in range(0, n, BLOCK):
        raws = []
        for j, v in enumerate(voters[i : i + BLOCK], start=i):
            sel = (tuple(int(k == j % 5) for k in range(5)),)
            ballot, _ = encrypt_ballot(m, st.joint_key, v.ed25519_public, sel, hash_bytes("bench-ballot", j.to_bytes(4, "big")))
            raw = encode(tx(v, CastBallot(eid, ballot)))  # type: ignore[arg-type]
            h = hash_bytes("tx", raw)  # trusted while building
            chain.checker.add(signature_key(h, chain.state.chain.chain_id))
            chain.checker.add(ballot_key(h, st.joint_key))
            raws.append(raw)
        chain.pending = raws
        chain.produce()
        print(f"  built {min(i + BLOCK, n)}/{n} ballots ({time.monotonic() - t0:.0f} s)", flush=True)
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ballots", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=ROOT / ".bench")
    ap.add_argument("--jobs", type=int, default=0, help="processes for the parallel-proof pass (default: cores; 1: skip)")
    args = ap.parse_args()
    path = args.dir / f"apply-chain-{args.ballots}"
    if not (path / "CURRENT").exists():
        print(f"building a chain with {args.ballots} ballots in {path} (once)...", flush=True)
        build(path, args.ballots)
    with Store(path, create=False) as store:
        g = store.genesis
        blocks = [store.block(h) for h in range(1, store.height + 1)]
    m = None
    key_: bytes | None = None
    count = 0
    for b in blocks:
        for raw in b.txs:
            t = decode_tx(raw)
            if isinstance(t.body, CreateElection):
                m = t.body.manifest
            count += isinstance(t.body, CastBallot)
    assert m is not None
    print(f"chain: {len(blocks)} blocks, {count} ballots (5-option single choice), blocks of {BLOCK}")

    # Interleaved, block by block, so that the three measurements see the same machine
    # load: bare verification of the block's ballots, then the block applied twice on
    # the same parent state (apply is pure), without and with the verify-once cache.
    base = MemoryBase()
    st = State.initial(g, base)
    bare = proofs = full = cached = wall_seq = wall_par = 0.0
    n = 0
    jobs = args.jobs if args.jobs else (os.cpu_count() or 1)
    pool = ParallelVerifier(jobs) if jobs > 1 else None
    for b in blocks:
        cast_raws = [(r, t) for r, t in ((r, decode_tx(r)) for r in b.txs) if isinstance(t.body, CastBallot)]
        raws, casts = [r for r, _ in cast_raws], [t for _, t in cast_raws]
        if not casts:
            st = base.commit(apply_block(st, b, None))
            continue
        if key_ is None:
            status = st.election(election_id(m))
            assert status is not None and status.joint_key is not None
            key_ = status.joint_key
        forget_decoded()  # each measurement decodes cold, as an auditor reading blocks does
        t0 = time.process_time()
        for raw in raws:
            t = decode_tx(raw)
            check_signature(t, st.chain.chain_id, raw)
        tp = time.process_time()
        for t in casts:
            verify_ballot(m, key_, t.signer, t.body.ballot)  # type: ignore[union-attr]
        forget_decoded()
        t1 = time.process_time()
        new = apply_block(st, b, None)
        t2 = time.process_time()
        memo = MemoChecker()  # the verdicts a validator's admission reached
        for h in b.tx_hashes():
            memo.add(signature_key(h, st.chain.chain_id))
            memo.add(ballot_key(h, key_))
        again = apply_block(st, b, memo)
        t3 = time.process_time()
        assert again.root == new.root
        bare, full, cached = bare + t1 - t0, full + t2 - t1, cached + t3 - t2
        proofs += t1 - tp
        if pool is not None:
            w0 = time.perf_counter()
            apply_block(st, b, None)
            w1 = time.perf_counter()
            par = apply_block(st, b, pool(st, b))
            w2 = time.perf_counter()
            assert par.root == new.root
            wall_seq, wall_par = wall_seq + w1 - w0, wall_par + w2 - w1
        n += len(casts)
        st = base.commit(new)
    rate_bare, rate_full, rate_cached = n / bare, n / full, n / cached
    print(f"bare verification       : {rate_bare:8.1f} ballots/s  ({1e3 * bare / n:.3f} ms/ballot: "
          f"decode + Ed25519 + proofs; the proofs alone {1e3 * proofs / n:.3f} ms)")
    print(f"apply, full verification: {rate_full:8.1f} ballots/s  ({1e3 * full / n:.3f} ms/ballot)")
    print(f"apply, verdicts memoised: {rate_cached:8.1f} ballots/s  ({1e3 * cached / n:.3f} ms/ballot)")
    print(f"full apply / bare verification = {rate_full / rate_bare:.1%}  (aim >= 90%)")
    if pool is not None:
        pool.close()
        print(
            f"wall clock: full apply {n / wall_seq:.1f} ballots/s on one core, {n / wall_par:.1f} ballots/s "
            f"with proofs on {jobs} processes (audit --jobs; x{wall_seq / wall_par:.2f})"
        )
    # The audit as `ballotchain audit --data` runs it; CPU of this process and of its
    # (reaped) worker processes, alternating one job and --jobs twice.
    runs: dict[int, list[tuple[float, float]]] = {1: [], jobs: []}
    freeze_long_lived()  # as `ballotchain audit` does before it replays (node/heap.py)
    for j in [1, jobs, 1, jobs] if jobs > 1 else [1, 1]:
        forget_decoded()
        c0, k0, w0 = time.process_time(), _children_cpu(), time.perf_counter()
        report = audit_data_dir(path, jobs=j)
        cpu = time.process_time() - c0 + _children_cpu() - k0
        runs[j].append((cpu, time.perf_counter() - w0))
        assert report.kinds["ballot-cast"] == n
    for j, rs in runs.items():
        cpu = sum(c for c, _ in rs) / len(rs)
        wall = sum(w for _, w in rs) / len(rs)
        print(
            f"audit --jobs {j}: {n / cpu:8.1f} ballots per CPU-second = {n / cpu / rate_bare:.1%} of bare "
            f"verification per core (aim >= 90%); {n / wall:.1f} ballots/s wall clock"
        )


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    main()
