"""``ballotchain audit``: replay a chain from genesis and re-verify everything."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ballot_tx.crypto.tally import summarize
from ballot_tx.errors import ErrorCode
from ballot_tx.replay import ReplayReport
from cli.common import fail


def print_report(report: ReplayReport) -> None:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.kinds.items()))
    click.echo(
        f"audit OK: {report.blocks} blocks, {report.txs} transactions ({kinds or 'none'}), "
        f"{report.certificates} commit certificates verified"
    )
    click.echo(f"state root {report.state_root.hex()}")
    for e in report.elections:
        click.echo(
            f"election {e.name} ({e.election_id.hex()[:16]}): {e.phase}, {e.registered} registered, "
            f"{e.voters_voted} voted ({e.ballots_cast} ballots incl. re-votes), {e.spoiled} spoiled"
        )
        if e.result is None:
            click.echo("  no result published yet; tally recomputed from the counted ballots")
            continue
        click.echo("  result verified against the recomputed tally and the trustees' shares:")
        for c in summarize(e.manifest, e.result):
            if c.kind == "rating":
                for oid, mean in zip(c.option_ids, c.means, strict=True):
                    click.echo(f"    {c.contest_id}/{oid}: mean rating {'-' if mean is None else f'{mean:.1f}'}")
            else:
                for oid, n in zip(c.option_ids, c.counts, strict=True):
                    click.echo(f"    {c.contest_id}/{oid}: {n}")


def run_data_audit(data: Path, jobs: int = 1) -> ReplayReport:
    """Audit a node database with a progress bar on a terminal, plain progress lines otherwise."""
    from node.audit import audit_data_dir

    tty = sys.stderr.isatty()
    state: dict[str, object] = {}

    def on_start(n: int) -> None:
        state["n"] = n
        if tty:
            bar = click.progressbar(length=n, label="replaying blocks", file=sys.stderr)
            bar.__enter__()
            state["bar"] = bar
        else:
            click.echo(f"replaying {n} blocks from genesis", err=True)

    def progress(h: int) -> None:
        bar = state.get("bar")
        if bar is not None:
            bar.update(1)  # type: ignore[attr-defined]
        else:
            n = int(state.get("n", 0))  # type: ignore[call-overload]
            step = max(1, n // 10)
            if h % step == 0 or h == n:
                click.echo(f"  {h}/{n} blocks verified", err=True)

    try:
        return audit_data_dir(data, on_start, progress, jobs)
    finally:
        bar = state.get("bar")
        if bar is not None:
            bar.__exit__(None, None, None)  # type: ignore[attr-defined]


@click.command()
@click.option("--data", "data", type=click.Path(path_type=Path), help="A node home or its data directory (LevelDB).")
@click.option("--jobs", type=int, default=0, help="Processes checking ballot proofs (default: one per core).")
def audit(data: Path | None, jobs: int) -> None:
    """Replay a chain from genesis; verify signatures, proofs, state roots, certificates and results.

    Exits 0 with a summary, or 1 naming the first failure (block, transaction, reason).
    """
    if data is None:
        fail(ErrorCode.USAGE, "give --data DIR (a node home or its data directory)")
    report = run_data_audit(data, jobs or os.cpu_count() or 1)
    print_report(report)
