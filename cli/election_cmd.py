"""``ballotchain election``: officials' commands (and a ballot preview in ja/en)."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ballot_tx.crypto.decryption import TallyResult, decrypt_tally
from ballot_tx.crypto.summary import summarize
from ballot_tx.errors import ErrorCode
from ballot_tx.manifest import RATING_LEVELS, Label, Manifest, election_id, scale_ends
from ballot_tx.tx import (
    CloseElection,
    CreateElection,
    OpenElection,
    PublishResult,
)
from ballot_tx.yomi import plain
from cli.ballot_ui import AUDIT, Screen, ballot_options, fill_ballot, format_choices
from cli.chain_client import (
    ChainClient,
    ElectionInfo,
    decryption_shares,
    key_option,
    load_key,
    node_option,
    parse_id,
    qualified_commitments,
)
from cli.common import Group, fail, read_text
from cli.i18n import _, lang_option, language
from cli.manifest_file import load_manifest
from cli.manifest_toml import to_toml
from cli.speech import Speaker


@click.group(cls=Group)
def election() -> None:
    """Create, open, close and follow elections (admin key from genesis)."""


@election.command("preview")
@click.option("--manifest", "manifest_path", type=click.Path(path_type=Path), required=True,
              help="The election.toml to show.")
@ballot_options
def election_preview(manifest_path: Path, plain: bool, speak: bool,
                     speak_to: Path | None) -> None:
    """Show the ballot of an election.toml as voters will see it, and try it.

    Nothing is sent anywhere; at the end the choices are printed in the
    --choices form that 'ballotchain vote' accepts.
    """
    m = load_manifest(manifest_path, nonce=bytes(32))
    speaker = Speaker(language(), play=speak, wav_path=speak_to)
    sel, how = fill_ballot(Screen(plain, speaker), m)
    speaker.close()
    click.echo(_("This was a preview: nothing was sent."))
    click.echo(f"--choices '{format_choices(m, sel)}'" + (" (audit)" if how == AUDIT else ""))


# --- officials: the election's life on chain ------------------------------------------

def _posted(what: str, answer: dict[str, Any]) -> None:
    height = answer.get("height")
    click.echo(f"{what}: committed in block {height}, transaction {answer['tracking_code']}")


@election.command("create")
@click.option("--manifest", "manifest_path", type=click.Path(path_type=Path), required=True,
              help="The election.toml.")
@key_option("election admin")
@node_option
def election_create(manifest_path: Path, key_path: Path, node_url: str) -> None:
    """Publish the election of an election.toml (validated first; errors name line and field)."""
    m = load_manifest(manifest_path)
    chain = ChainClient(node_url)
    answer = chain.submit(load_key(key_path), CreateElection(m))
    eid = election_id(m)
    _posted("election created", answer)
    click.echo(f"election id: {eid.hex()}")


def _info(node_url: str, election: str) -> tuple[ChainClient, ElectionInfo]:
    chain = ChainClient(node_url)
    return chain, chain.election(parse_id(election))


def _when(ms: int) -> str:
    """Election times in Japan time, said so (the city's voters and officials read JST)."""
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(ms / 1000, ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M JST")


@election.command("show")
@click.argument("election")
@click.option("--toml", "as_toml", is_flag=True, help="Print the manifest as election.toml.")
@node_option
def election_show(election: str, as_toml: bool, node_url: str) -> None:
    """Show an election's manifest: contests, options, window, eligibility, trustees."""
    _chain, e = _info(node_url, election)
    m = e.manifest
    if as_toml:
        click.echo(to_toml(m), nl=False)
        return
    click.echo(f"{m.title.en} / {m.title.ja}")
    click.echo(f"id:          {e.election_id.hex()}")
    click.echo(f"name:        {m.name}")
    click.echo(f"voting:      {_when(m.start_ms)} to {_when(m.end_ms)}")
    click.echo(f"eligibility: {m.eligibility}; re-voting {'allowed' if m.revoting else 'not allowed'}")
    if m.login_provider is not None:
        click.echo(f"sign-in:     {m.login_provider.issuer} (client {m.login_provider.client_id})")
    click.echo(f"trustees:    {', '.join(t.name for t in m.trustees)} "
               f"({m.threshold} of {len(m.trustees)} decrypt)")
    for i, c in enumerate(m.contests, 1):
        rule = {"single": "choose one", "rating": "rate each 0-100"}.get(
            c.kind, f"choose {c.min_selections} to {c.max_selections}")
        click.echo(f"contest {i} {c.id} ({c.kind}, {rule}): {c.title.en} / {c.title.ja}")
        if c.kind == "rating":
            low, high = scale_ends(c)
            default = "" if c.scale_low or c.scale_high else " (default)"
            click.echo(f"  scale: 0 = {low.en} / {low.ja}, 100 = {high.en} / {high.ja}{default}")
        for o in c.options:
            img = f"  [image {o.image.uri}]" if o.image else ""
            click.echo(f"  - {o.id}: {o.label.en} / {o.label.ja}{img}")


@election.command("status")
@click.argument("election")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@node_option
@lang_option
def election_status(election: str, as_json: bool, node_url: str) -> None:
    """Phase, registered voters, ballots received and turnout."""
    _chain, e = _info(node_url, election)
    status = e.status
    turnout = status.voters_voted / status.registered if status.registered else 0.0
    doc = {"election_id": e.election_id.hex(), "name": e.manifest.name, "phase": e.phase,
           "registered": status.registered, "ballots_cast": status.ballots_cast,
           "voters_voted": status.voters_voted, "spoiled": status.spoiled, "cancelled": status.cancelled,
           "turnout": round(turnout, 4), "as_of_height": e.height}
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    from cli.vote_cmd import phase_words

    click.echo(_("election {name}: {phase} (as of block {height})").format(
        name=e.manifest.name, phase=phase_words(e.phase), height=e.height))
    click.echo(_("registered voters: {n}").format(n=status.registered))
    click.echo(_("ballots received:  {n} (from {voters} voters; re-votes replace earlier "
                 "ballots)").format(n=status.ballots_cast, voters=status.voters_voted))
    click.echo(_("spoiled (audited): {n}").format(n=status.spoiled))
    if status.cancelled:
        click.echo(_("cancelled (voted on paper): {n} internet votes, not counted").format(n=status.cancelled))
    click.echo(_("turnout:           {pct}").format(pct=f"{turnout:.1%}"))


def _admin_step(body_cls: type, done: str, election: str, key_path: Path, node_url: str) -> None:
    chain = ChainClient(node_url)
    eid = parse_id(election)
    answer = chain.submit(load_key(key_path), body_cls(eid))
    _posted(done, answer)
    click.echo(f"phase: {chain.election(eid).phase}")


@election.command("open")
@click.argument("election")
@key_option("election admin")
@click.option("--exclude", "exclude", type=int, multiple=True, metavar="TRUSTEE",
              help="Leave this trustee (its 1-based number) out of the key, e.g. one that sent "
                   "its shares and never acknowledged the others'. Repeat for several.")
@node_option
def election_open(election: str, key_path: Path, exclude: tuple[int, ...], node_url: str) -> None:
    """End the key ceremony and accept ballots within the voting window.

    The chain refuses while a trustee that would hold part of the key has not
    acknowledged (or complained about) another's shares: `trustee ceremony` shows who.
    """
    chain = ChainClient(node_url)
    eid = parse_id(election)
    answer = chain.submit(load_key(key_path), OpenElection(eid, tuple(sorted(set(exclude)))))
    _posted("election opened" + (f" without trustee(s) {', '.join(map(str, sorted(set(exclude))))}"
                                 if exclude else ""), answer)
    e = chain.election(eid)
    click.echo(f"phase: {e.phase}; key held by trustees {', '.join(map(str, e.status.qualified))}")


@election.command("close")
@click.argument("election")
@key_option("election admin")
@node_option
def election_close(election: str, key_path: Path, node_url: str) -> None:
    """Stop accepting ballots (this also happens by itself at the manifest's end time)."""
    _admin_step(CloseElection, "election closed", election, key_path, node_url)


@election.command("publish")
@click.argument("election")
@key_option("election admin (or a trustee)")
@node_option
def election_publish(election: str, key_path: Path, node_url: str) -> None:
    """Combine the trustees' decryption shares into the result and publish it (after close)."""
    chain, e = _info(node_url, election)
    if e.tally is None or e.phase != "closed":
        fail(ErrorCode.USAGE, f"the election is {e.phase}; the result is published after close")
    txs = chain.election_bodies(e.election_id)
    shares = decryption_shares(txs)
    if len(shares) < e.manifest.threshold:
        fail(ErrorCode.USAGE, f"{len(shares)} of the {e.manifest.threshold} decryption shares "
             "needed are posted; ask the trustees to run 'ballotchain trustee decrypt'")
    result = decrypt_tally(e.manifest, qualified_commitments(e, txs), e.tally, shares)
    _posted("result published", chain.submit(load_key(key_path),
                                             PublishResult(e.election_id, result)))
    show_result(e.manifest, result, language())


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - _width(s))


def show_result(m: Manifest, result: TallyResult, lang: str) -> None:
    """A table per contest: votes and their share *of the ballots counted* (said in the
    table; with multiple choice the shares add up to more than 100 %), or a rating's mean
    and distribution. In ``lang``, for this table only."""
    from cli.i18n import speaking

    with speaking(lang):
        _print_result(m, result, lang)


def _print_result(m: Manifest, result: TallyResult, lang: str) -> None:
    def label(lbl: Label) -> str:
        return plain(lbl.ja) if lang == "ja" else lbl.en

    click.echo(_("{title}: {n} ballots counted (decrypted by trustees {trustees})").format(
        title=label(m.title), n=result.ballots, trustees=", ".join(map(str, result.trustees))))
    for c, cr in zip(m.contests, summarize(m, result), strict=True):
        click.echo(f"\n{label(c.title)}")
        width = max(_width(label(o.label)) for o in c.options) + 2
        if c.kind == "rating":
            low, high = scale_ends(c)
            click.echo("  " + _("0 means “{low}”, 100 means “{high}”.").format(
                low=label(low), high=label(high)))
            mean_h = _("mean")
            click.echo(f"  {'':{width}} {_pad(mean_h, 6)}  " + " ".join(f"{v:>3}" for v in RATING_LEVELS))
            for o, mean, hist in zip(c.options, cr.means, cr.histograms, strict=True):
                ms = "-" if mean is None else f"{mean:.1f}"
                click.echo(f"  {_pad(label(o.label), width)} {ms:>6}  " + " ".join(f"{n:>3}" for n in hist))
            continue
        ballots = result.ballots or 1
        votes_h, share_h = _("votes"), _("% of ballots")
        click.echo(f"  {'':{width}} {votes_h:>6}  {share_h}")
        for o, n in sorted(zip(c.options, cr.counts, strict=True), key=lambda x: -x[1]):
            click.echo(f"  {_pad(label(o.label), width)} {n:>6}  {n / ballots:6.1%}  "
                       + "█" * round(30 * n / ballots))
        if c.kind == "multiple" and c.max_selections > 1:
            click.echo("  " + _("Shares are of the {n} ballots counted; a ballot may choose up to "
                                "{k}, so they can add up to more than 100%.").format(
                                    n=result.ballots, k=c.max_selections))


def result_json(m: Manifest, result: TallyResult) -> dict[str, Any]:
    contests = []
    for c, cr in zip(m.contests, summarize(m, result), strict=True):
        if c.kind == "rating":
            items = [{"id": o.id, "label": {"ja": o.label.ja, "en": o.label.en}, "mean": mean,
                      "histogram": dict(zip(map(str, RATING_LEVELS), hist, strict=True))}
                     for o, mean, hist in zip(c.options, cr.means, cr.histograms, strict=True)]
        else:
            items = [{"id": o.id, "label": {"ja": o.label.ja, "en": o.label.en}, "votes": n}
                     for o, n in zip(c.options, cr.counts, strict=True)]
        doc: dict[str, Any] = {"id": c.id, "kind": c.kind,
                               "title": {"ja": c.title.ja, "en": c.title.en}, "options": items}
        if c.kind == "rating":  # what 0 and 100 mean (the manifest's labels, else the defaults)
            low, high = scale_ends(c)
            doc["scale"] = {"low": {"ja": low.ja, "en": low.en}, "high": {"ja": high.ja, "en": high.en}}
        contests.append(doc)
    return {"election_id": result.election_id.hex(), "name": m.name, "ballots": result.ballots,
            "trustees": list(result.trustees), "contests": contests}


@election.command("result")
@click.argument("election")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False),
              help="Draw each contest (bars; a histogram per rated item) to this PNG.")
@node_option
@lang_option
def election_result(election: str, as_json: bool, plot: Path | None, node_url: str) -> None:
    """The published, verified result: a table per contest."""
    lang = language()
    chain, e = _info(node_url, election)
    result = chain.result(e.election_id)
    if result is None:
        fail(ErrorCode.USAGE, f"no result is published yet (the election is {e.phase} "
             f"as of block {e.height} of this node)")
    if as_json:
        click.echo(json.dumps(result_json(e.manifest, result), indent=2, ensure_ascii=False))
    else:
        show_result(e.manifest, result, lang)
    if plot is not None:
        from cli.plot import plot_result

        plot_result(e.manifest, result, plot, lang)
        click.echo(_("chart written to {path}").format(path=plot), err=as_json)


@election.command("export")
@click.argument("election")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Directory to create for the election record.")
@click.option("--genesis", "genesis_path", type=click.Path(path_type=Path), required=True,
              envvar="BALLOTCHAIN_GENESIS", help="The chain's genesis.json (copied into the record).")
@node_option
def election_export(election: str, out: Path, genesis_path: Path, node_url: str) -> None:
    """Write a self-contained election record that 'ballotchain audit --record' verifies offline."""
    from cli.record import derive, record_files, write_record
    from genesis.document import from_json, genesis_hash

    if out.exists():
        fail(ErrorCode.IO_ERROR, f"{out} already exists; choose a new directory")
    genesis_text = read_text(genesis_path)
    chain, e = _info(node_url, election)
    if genesis_hash(from_json(genesis_text)) != chain.chain_id:
        fail(ErrorCode.USAGE, f"{genesis_path} is not the genesis of the node's chain")
    blocks = list(chain.blocks(1, e.height))
    derived = derive(e.election_id, blocks, e.manifest, e.tally, chain.result(e.election_id))
    files = record_files(e.election_id, genesis_text, derived, e.height)
    write_record(out, files)
    counts = {k: len(v) for k, v in derived.records.items()}
    click.echo(f"election record of {e.manifest.name} written to {out}: {e.height} blocks, "
               f"{counts['ballots']} ballots, {counts['spoiled']} spoiled, "
               f"{counts['decryption_shares']} decryption shares, "
               f"result {'included' if counts['result'] else 'not published yet'}")
    click.echo(f"verify it offline with: ballotchain audit --record {out}")
