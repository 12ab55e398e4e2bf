"""CPU cost of PBFT per committed block in the simulation, against the Ed25519 floor.

Per block, with no faults, the n replicas together must at least make 2n signatures
(1 PRE-PREPARE, n-1 PREPAREs, n COMMITs) plus n/K CHECKPOINTs, and verify each message
they receive once: (n-1) pre-prepares + (n-1)^2 prepares + n(n-1) commits + n(n-1)/K
checkpoints. That many raw libsodium sign/verify calls is the floor; the ratio says how
much the state machine, encoding and hashing add on top. Runs without invariant checks,
on a network with no loss, and reports process CPU time (all replicas together).
"""

from __future__ import annotations

import argparse
import time

import nacl.signing

from consensus.sim.world import SimConfig, Simulation


def raw_ed25519(iterations: int) -> tuple[float, float]:
    """Seconds per pynacl sign and per verify of a 120-byte message (this machine, now)."""
    key = nacl.signing.SigningKey(bytes(range(32)))
    msg = bytes(120)
    signed = key.sign(msg)
    vk = key.verify_key
    t = time.process_time()
    for _ in range(iterations):
        key.sign(msg)
    sign = (time.process_time() - t) / iterations
    t = time.process_time()
    for _ in range(iterations):
        vk.verify(signed)
    verify = (time.process_time() - t) / iterations
    return sign, verify


def floor_counts(n: int, interval: int) -> tuple[float, float]:
    signs = 2 * n + n / interval
    verifies = (n - 1) + (n - 1) ** 2 + n * (n - 1) + n * (n - 1) / interval
    return signs, verifies


def bench(n: int, blocks: int, interval: int) -> dict[str, float]:
    cfg = SimConfig(
        n=n, seed=1, target_height=blocks, checkpoint_interval=interval, check=False,
        min_delay_ms=1, max_delay_ms=2, proposal_delay_ms=0, view_timeout_ms=10_000,
    )
    sim = Simulation(cfg)
    t = time.process_time()
    sim.run()
    cpu = time.process_time() - t
    height = min(len(x.chain) for x in sim.instances)
    return {
        "blocks": height,
        "cpu_per_block": cpu / height,
        "signs_per_block": sum(x.state.stats.signatures for x in sim.instances) / height,
        "verifies_per_block": sum(x.state.config.verifier.verify_calls for x in sim.instances) / height,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", type=int, default=200)
    ap.add_argument("--interval", type=int, default=10, help="checkpoint interval K")
    ap.add_argument("--iterations", type=int, default=3000, help="raw sign/verify samples")
    args = ap.parse_args()
    sign, verify = raw_ed25519(args.iterations)
    print(f"raw Ed25519 (pynacl): sign {sign * 1e6:.1f} us, verify {verify * 1e6:.1f} us")
    print(f"checkpoint interval K = {args.interval}, {args.blocks} blocks per run, no faults")
    print("  n | CPU ms/block (all replicas) | signs/block | verifies/block | floor ms | ratio")
    for n in (4, 7):
        r = bench(n, args.blocks, args.interval)
        fs, fv = floor_counts(n, args.interval)
        floor = fs * sign + fv * verify
        print(
            f"{n:>3} | {r['cpu_per_block'] * 1e3:>27.2f} | {r['signs_per_block']:>5.1f} "
            f"(floor {fs:.1f}) | {r['verifies_per_block']:>6.1f} (floor {fv:.1f}) | "
            f"{floor * 1e3:>8.2f} | {r['cpu_per_block'] / floor:>5.2f}"
        )


if __name__ == "__main__":
    main()
