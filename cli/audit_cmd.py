"""``ballotchain audit``: replay a chain from genesis and re-verify everything."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ballot_tx.block import Block
from ballot_tx.crypto.summary import summarize
from ballot_tx.errors import ErrorCode
from ballot_tx.replay import ReplayReport
from ballot_tx.yomi import plain
from cli.common import fail
from cli.i18n import _, lang_option


def print_report(report: ReplayReport) -> None:
    """The audit's summary in the current language (``--lang``)."""
    from cli.i18n import language
    from cli.vote_cmd import phase_words

    ja = language() == "ja"
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.kinds.items()))
    click.echo(_("audit OK: {blocks} blocks, {txs} transactions ({kinds}), {certs} commit "
                 "certificates verified").format(blocks=report.blocks, txs=report.txs,
                                                 kinds=kinds or _("none"),
                                                 certs=report.certificates))
    click.echo(_("state root {root}").format(root=report.state_root.hex()))
    for e in report.elections:
        click.echo(_("election {name} ({id}): {phase}, {registered} registered, {voted} voted "
                     "({ballots} ballots incl. re-votes), {spoiled} spoiled").format(
                         name=e.name, id=e.election_id.hex()[:16], phase=phase_words(e.phase),
                         registered=e.registered, voted=e.voters_voted, ballots=e.ballots_cast,
                         spoiled=e.spoiled)
                   + (_(", {n} internet votes cancelled by paper votes").format(n=e.cancelled)
                      if e.cancelled else ""))
        if e.result is None:
            click.echo("  " + _("no result published yet; tally recomputed from the counted ballots"))
            continue
        click.echo("  " + _("result verified against the recomputed tally and the trustees' shares:"))
        contests = {c.id: c for c in e.manifest.contests}
        for c in summarize(e.manifest, e.result):
            contest = contests[c.contest_id]
            labels = {o.id: (plain(o.label.ja) if ja else o.label.en) for o in contest.options}
            title = plain(contest.title.ja) if ja else contest.title.en
            if c.kind == "rating":
                for oid, mean in zip(c.option_ids, c.means, strict=True):
                    click.echo("    " + _("{contest} / {option}: mean rating {mean}").format(
                        contest=title, option=labels[oid],
                        mean="-" if mean is None else f"{mean:.1f}"))
            else:
                for oid, n in zip(c.option_ids, c.counts, strict=True):
                    click.echo(f"    {title} / {labels[oid]}: {n}")


def run_data_audit(data: Path, jobs: int = 1, expect: bytes | None = None) -> ReplayReport:
    """Audit a node database with a progress bar on a terminal, plain progress lines otherwise."""
    from node.audit import audit_data_dir

    p = _Progress()
    try:
        return audit_data_dir(data, p.start, p.step, jobs, expect)
    finally:
        p.close()


class _Progress:
    """A progress bar on a terminal, a few plain lines otherwise (both on stderr)."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.n = 0

    def start(self, n: int) -> None:
        self.n = n
        if sys.stderr.isatty():
            self.bar = click.progressbar(length=n, label=_("replaying blocks"), file=sys.stderr)
            self.bar.__enter__()
        else:
            click.echo(_("replaying {n} blocks from genesis").format(n=n), err=True)

    def step(self, h: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
        elif h % max(1, self.n // 10) == 0 or h == self.n:
            click.echo("  " + _("{h}/{n} blocks verified").format(h=h, n=self.n), err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def run_record_audit(record: Path, expect: bytes | None) -> ReplayReport:
    from cli.record import audit_record

    p = _Progress()
    try:
        return audit_record(record, p.step, expect, p.start).report
    finally:
        p.close()


def run_node_audit(node_url: str, genesis_path: Path, expect: bytes | None = None) -> ReplayReport:
    """Fetch every block and certificate from a live node and replay them from our genesis
    (refused before the node is asked anything if that genesis is not the ``expect``ed one)."""
    from ballot_tx.replay import replay
    from cli.chain_client import ChainClient
    from cli.common import read_text
    from consensus.certificate import certificate_checker
    from genesis.document import from_json, genesis_hash

    genesis = from_json(read_text(genesis_path))
    if expect is not None and genesis_hash(genesis) != expect:
        fail(ErrorCode.AUDIT_CHAIN_BROKEN, f"{genesis_path}: its hash {genesis_hash(genesis).hex()} "
             f"is not the expected {expect.hex()}")
    chain = ChainClient(node_url)
    if chain.chain_id != genesis_hash(genesis):
        fail(ErrorCode.AUDIT_CHAIN_BROKEN, f"the node serves another chain than {genesis_path}")
    height = chain.height()
    p = _Progress()
    p.start(height)
    blocks: dict[int, Any] = {}

    def fetch() -> Iterator[tuple[Block, bytes | None]]:
        for block, cert in chain.blocks(1, height):
            blocks[block.height] = block
            yield block, cert

    try:
        _state, report = replay(genesis, fetch(), lambda h, i: blocks[h].txs[i],
                           certificate_checker(genesis), p.step)
    finally:
        p.close()
    return report


@click.command()
@click.option("--data", "data", type=click.Path(path_type=Path), help="A node home or its data directory (LevelDB).")
@click.option("--record", "record", type=click.Path(path_type=Path, file_okay=False),
              help="An election record from 'ballotchain election export' (offline).")
@click.option("--node", "node_url", help="A live node (an observer) to fetch every block from.")
@click.option("--genesis", "genesis_path", type=click.Path(path_type=Path),
              help="With --node: the genesis.json to trust.")
@click.option("--expect-genesis", help="The genesis hash (chain id) the city published: a chain with "
              "another genesis is refused before anything is replayed.")
@click.option("--jobs", type=int, default=0, help="Processes checking ballot proofs (default: one per core).")
@lang_option
def audit(data: Path | None, record: Path | None, node_url: str | None,
          genesis_path: Path | None, expect_genesis: str | None, jobs: int) -> None:
    """Replay a chain from genesis; verify signatures, proofs, state roots, certificates and results.

    Exits 0 with a summary, or 1 naming the first failure (block, transaction, reason).
    """
    if sum(x is not None for x in (data, record, node_url)) != 1:
        fail(ErrorCode.USAGE, "give one of --data DIR, --record DIR or --node URL")
    from cli.chain_client import parse_id

    expect = parse_id(expect_genesis, "genesis hash") if expect_genesis is not None else None
    from node.heap import freeze_long_lived

    freeze_long_lived()  # this process (and the read-ahead workers it forks) replays to the end
    if record is not None:
        report = run_record_audit(record, expect)
    elif node_url is not None:
        if genesis_path is None:
            fail(ErrorCode.USAGE, "--node needs --genesis genesis.json (the chain to trust)")
        report = run_node_audit(node_url, genesis_path, expect)
    else:
        assert data is not None
        report = run_data_audit(data, jobs or os.cpu_count() or 1, expect)
    print_report(report)
