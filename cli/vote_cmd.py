"""``ballotchain vote`` and ``ballotchain receipt verify``: the voter's thin client (ja/en).

Everything that matters happens on the voter's machine: the ballot is encrypted
here under the election's joint key with its validity proofs; a spoiled (audited)
ballot is checked here against what the voter chose; a receipt is checked here
against the genesis validators' keys. The node is only a messenger.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from ballot_tx.block import InclusionProof, block_hash, tx_hash, verify_inclusion
from ballot_tx.codec import decode
from ballot_tx.crypto.ballot import encrypt_ballot, verify_spoiled
from ballot_tx.eligibility import one_time_code as otc
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import voting_open_at
from ballot_tx.tx import CastBallot, SpoilBallot, decode_tx
from cli import keyfile
from cli.ballot_ui import AUDIT, Screen, ballot_options, describe_choice, fill_ballot, parse_choices
from cli.chain_client import ChainClient, node_option, parse_id
from cli.common import Group, fail_localized, read_text
from cli.i18n import _, lang_option, language
from cli.node_client import NodeClient, NodeError
from cli.speech import Speaker
from genesis.document import Genesis, from_json, genesis_hash
from node.ballotbox import clean_code, short_code

JST = ZoneInfo("Asia/Tokyo")


def _local(ms: int) -> str:
    """An election time as voters read it: Japan time, said so."""
    return datetime.fromtimestamp(ms / 1000, JST).strftime("%Y-%m-%d %H:%M ") + _("JST")


def _check_eligible(chain: ChainClient, eid: bytes, keys: KeyPair, revoting: bool, spoil: bool) -> None:
    """Refuse a used, unregistered or already-voted key now, before the ballot is filled in
    (the voter record is public on the chain). A node that cannot say lets the voter go on:
    the cast itself is checked by every validator."""
    try:
        v = chain.node.get(f"/v1/elections/{eid.hex()}/voters/{keys.ed25519_public.hex()}")
    except NodeError as e:
        if e.code == ErrorCode.API_NOT_FOUND:
            fail_localized(ErrorCode.TX_NOT_ELIGIBLE, _(
                "This voting code or key is not registered for this election. Check the code "
                "you typed, or ask the election office."))
        return
    if spoil or not isinstance(v, dict) or not v.get("ballots"):
        return
    if v.get("single_use"):
        fail_localized(ErrorCode.TX_CODE_USED, _(
            "This voting code has already been used: a code votes once. If you did not vote "
            "with it, tell the election office."))
    if not revoting:
        fail_localized(ErrorCode.TX_REVOTE_NOT_ALLOWED, _(
            "You have already voted, and this election does not allow voting again."))


def phase_words(phase: str) -> str:
    """An election phase as a voter would say it."""
    return {"ceremony": _("not open yet"), "open": _("open"), "closed": _("closed"),
            "decided": _("closed, with its result published")}.get(phase, phase)


def _voter_keys(chain: ChainClient, eid: bytes, method: str, salt: bytes | None,
                key_path: Path | None, code: str | None, screen: Screen) -> KeyPair:
    if method == "one-time-code":
        if salt is None:
            fail_localized(ErrorCode.VOTE_NOT_OPEN, _("No voting codes have been issued yet."))
        typed = code if code is not None else screen.ask(_("Type your voting code"))
        return otc.code_keys(eid, salt, typed)
    if key_path is None:
        fail_localized(ErrorCode.USAGE, _("Give your voting key file with --key."))
    return keyfile.load(key_path)


@click.command()
@click.argument("election")
@node_option
@click.option("--key", "key_path", type=click.Path(path_type=Path),
              help="Your voting key file (elections with ID-card registration).")
@click.option("--code", help="Your voting code (elections with mailed codes); asked if not given.")
@click.option("--choices", help="Vote without questions, e.g. 'mayor=sato;pledges=childcare:70'.")
@click.option("--spoil", is_flag=True,
              help="Audit instead of casting: the ballot is opened and checked, not counted.")
@ballot_options
def vote(election: str, node_url: str, key_path: Path | None, code: str | None,
         choices: str | None, spoil: bool, plain: bool, speak: bool,
         speak_to: Path | None) -> None:
    """Vote in ELECTION: choose, confirm, and the ballot is encrypted here and cast."""
    chain = ChainClient(node_url)
    eid = parse_id(election)
    e = chain.election(eid)
    speaker = Speaker(language(), play=speak, wav_path=speak_to)
    screen = Screen(plain, speaker)
    if e.phase != "open" or e.status.joint_key is None:
        fail_localized(ErrorCode.VOTE_NOT_OPEN,
                       _("This election is not accepting ballots now (it is {phase}).").format(
                           phase=phase_words(e.phase)))
    now_ms = int(time.time() * 1000)
    if not voting_open_at(e.manifest, now_ms):
        fail_localized(ErrorCode.VOTE_NOT_OPEN, _(
            "Voting is open from {start} to {end}; it is not open now.").format(
                start=_local(e.manifest.start_ms), end=_local(e.manifest.end_ms)))
    keys = _voter_keys(chain, eid, e.manifest.eligibility, e.status.code_salt, key_path, code,
                       screen)
    m = e.manifest
    _check_eligible(chain, eid, keys, m.revoting, spoil)
    interactive = choices is None
    while True:
        if choices is not None:
            sel = parse_choices(m, choices)
            how = AUDIT if spoil else "cast"
        else:
            sel, how = fill_ballot(screen, m)
            how = AUDIT if spoil else how
        screen.say(_("Encrypting your ballot on this computer..."))
        ballot, secrets = encrypt_ballot(m, e.status.joint_key, keys.ed25519_public, sel)
        if how != AUDIT:
            break
        answer = chain.submit(keys, SpoilBallot(eid, ballot, secrets))
        opened = verify_spoiled(m, e.status.joint_key, keys.ed25519_public, ballot, secrets)
        screen.heading(_("Ballot opened for checking (not counted)"))
        for c, s in zip(m.contests, opened, strict=True):
            screen.say(_("{contest}: {choice}").format(contest=c.title.ja if language() == "ja"
                                                       else c.title.en,
                                                       choice=describe_choice(c, s)))
        screen.say(_("The encrypted ballot was opened and contains exactly your choices: "
                     "this computer encrypted honestly."))
        screen.say(_("You have not voted yet: this ballot was opened for checking and is "
                     "not counted."))
        screen.say_code(_("Tracking code of the opened ballot (not counted)"),
                        answer["tracking_code"])
        if not interactive or spoil or not screen.confirm(
                _("Vote now with a fresh ballot? (y: yes, n: stop here)")):
            screen.say(_("To vote, run this command again and cast a ballot."))
            speaker.close()
            return
    answer = chain.submit(keys, CastBallot(eid, ballot))
    code_hex = str(answer["tracking_code"])
    screen.say(_("Your ballot was cast and recorded in block {height}.").format(
        height=answer.get("height")))
    screen.say_code(_("Your tracking code"), code_hex)
    if m.revoting:
        try:
            earlier = chain.node.ballot(code_hex).get("replaces")
        except NodeError:
            earlier = None
        if isinstance(earlier, str) and re.fullmatch(r"[0-9a-f]{64}", earlier):
            screen.say(_("This ballot replaces your earlier ballot {code}, which is no longer "
                         "counted.").format(code=short_code(earlier)),
                       spoken=_("This ballot replaces your earlier ballot, which is no longer "
                                "counted."))
        screen.say(_("You may vote again until voting closes; only your last ballot counts."))
    click.echo(_("Check it at any time with: ballotchain receipt verify {code} --node {node} "
                 "--chain {fp}").format(code=short_code(code_hex).replace(" ", ""),
                                        node=chain.node.base,
                                        fp=short_code(chain.chain_id.hex()).replace(" ", "")))
    speaker.close()


@click.group(cls=Group)
def receipt() -> None:
    """Check a ballot's receipt yourself."""


def _fingerprint(typed: str) -> str:
    fp = "".join(typed.split()).replace("-", "").lower()
    if not re.fullmatch(r"[0-9a-f]{16,64}", fp):
        fail_localized(ErrorCode.USAGE, _(
            "The chain fingerprint is the 16 characters (0-9, a-f) printed on your voting letter, "
            "e.g. 3f2a 9c01 b7e4 5d20."))
    return fp


def _pinned_genesis(node: NodeClient, fingerprint: str) -> Genesis:
    """The genesis a node serves, accepted only if it hashes to the pinned fingerprint."""
    doc = node.genesis()
    try:
        genesis = decode(Genesis, bytes.fromhex(str(doc["genesis_bytes"])))
    except (BallotchainError, KeyError, ValueError):
        raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE, "the node's genesis does not decode") from None
    if not genesis_hash(genesis).hex().startswith(fingerprint):
        fail_localized(ErrorCode.RECEIPT_WRONG_CHAIN, _(
            "The node {node} serves another chain than the fingerprint {fp}: do not trust it, "
            "and tell the election office.").format(node=node.base, fp=short_code(fingerprint)))
    return genesis


@dataclass(frozen=True)
class Checked:
    height: int
    signatures: int
    kind: str  # "cast", "spoil" or "other", read from the transaction's own bytes
    status: str | None  # "counted" / "replaced" / "cancelled" / "opened", from the ballot box
    replaced_by: str | None
    cancelled: bool = False  # a paper vote cancelled it (the node's receipt says so)


def _check_on(node: NodeClient, genesis: Genesis, tracking: bytes) -> Checked:
    """Everything one node says about the ballot, checked here against the genesis keys."""
    from consensus.certificate import CommitCertificate, verify_certificate

    code = tracking.hex()
    try:
        doc = node.receipt(tracking)
    except NodeError as err:
        if err.code == ErrorCode.API_NOT_FOUND:
            fail_localized(ErrorCode.RECEIPT_NOT_FOUND, _(
                "Not found: check the code you typed ({code}).").format(code=short_code(code)))
        raise
    try:
        proof = decode(InclusionProof, bytes.fromhex(doc["inclusion_proof_bytes"]))
        if proof.tx_hash != tracking:
            raise BallotchainError(ErrorCode.BLOCK_BAD_PROOF, "the proof is for another ballot")
        verify_inclusion(proof)
    except (BallotchainError, KeyError, ValueError, TypeError):
        fail_localized(ErrorCode.RECEIPT_BAD_PROOF, _(
            "The proof that your ballot is in block {height} does not check out.").format(
                height=doc.get("height")))
    try:
        cert = decode(CommitCertificate, bytes.fromhex(doc["certificate_bytes"]))
        if cert.height != proof.header.height or cert.block_hash != block_hash(proof.header):
            raise BallotchainError(ErrorCode.RECEIPT_BAD_CERTIFICATE, "for another block")
        verify_certificate(genesis, genesis_hash(genesis), cert)
    except (BallotchainError, KeyError, ValueError, TypeError):
        fail_localized(ErrorCode.RECEIPT_BAD_CERTIFICATE, _(
            "Block {height} is not certified by the city's validators.").format(
                height=proof.header.height))
    kind, status, replaced_by = "other", None, None
    try:
        raw = bytes.fromhex(str(node.tx(tracking)["tx_bytes"]))
        if tx_hash(raw) == tracking:
            body = decode_tx(raw).body
            kind = "spoil" if isinstance(body, SpoilBallot) else "cast" if isinstance(body, CastBallot) else "other"
        if kind == "cast":
            box = node.ballot(code)
            status = str(box.get("status")) if box.get("status") in ("counted", "replaced", "cancelled") else None
            rb = box.get("replaced_by")
            replaced_by = rb if isinstance(rb, str) and re.fullmatch(r"[0-9a-f]{64}", rb) else None
    except (BallotchainError, KeyError, ValueError, TypeError):
        pass  # an older node without the ballot box: the receipt itself is still verified
    return Checked(proof.header.height, len(cert.sigs), kind,
                   "opened" if kind == "spoil" else status, replaced_by, doc.get("cancelled") is True)


def _second_node(genesis: Genesis, first: NodeClient, given: str | None) -> NodeClient | None:
    if given:
        return NodeClient(given)
    scheme = first.base.split("://")[0]
    for m in (*genesis.observers, *genesis.validators):
        other = NodeClient(f"{scheme}://{m.address}")
        if other.base != first.base:
            return other
    return None


@receipt.command("verify")
@click.argument("code")
@node_option
@click.option("--chain", "fingerprint",
              help="The chain fingerprint printed on your voting letter (16 characters or more).")
@click.option("--genesis", "genesis_path", type=click.Path(path_type=Path),
              envvar="BALLOTCHAIN_GENESIS",
              help="Instead of --chain: the chain's genesis.json (it names the validators).")
@click.option("--second-node", "second_url",
              help="A second node to cross-check with (default: the chain's first observer).")
@lang_option
def receipt_verify(code: str, node_url: str, fingerprint: str | None, genesis_path: Path | None,
                   second_url: str | None) -> None:
    """Check on this computer that the ballot with tracking CODE is on the chain.

    CODE is the full tracking code or its short form (the first 16 characters). The chain
    is pinned by the fingerprint on your voting letter (--chain) or a genesis.json. The
    node sends the Merkle path from the ballot to its block and the block's commit
    certificate; this checks both against the validators' keys, then asks a second node
    the same. No node is trusted.
    """
    try:
        typed = clean_code(code)
    except BallotchainError:
        fail_localized(ErrorCode.RECEIPT_BAD_FORMAT, _(
            "This is not a tracking code: a tracking code has 64 characters 0-9 and a-f "
            "(or give its first 16). Your voting code is not your tracking code."))
    node = ChainClient(node_url).node
    if genesis_path is not None:
        genesis = from_json(read_text(genesis_path))
    elif fingerprint is not None:
        genesis = _pinned_genesis(node, _fingerprint(fingerprint))
    else:
        fail_localized(ErrorCode.USAGE, _(
            "Give the chain fingerprint printed on your voting letter with --chain."))
    if len(typed) < 64:
        try:
            found = str(node.ballot(typed).get("tracking_code", ""))
        except NodeError as err:
            if err.code in (ErrorCode.RECEIPT_NOT_FOUND, ErrorCode.API_NOT_FOUND):
                fail_localized(ErrorCode.RECEIPT_NOT_FOUND, _(
                    "Not found: check the code you typed ({code}).").format(code=code.strip()))
            if err.code == ErrorCode.RECEIPT_AMBIGUOUS:
                fail_localized(ErrorCode.RECEIPT_AMBIGUOUS, _(
                    "More than one ballot starts with {code}: give the full tracking code.").format(
                        code=code.strip()))
            raise
        if not re.fullmatch(r"[0-9a-f]{64}", found) or not found.startswith(typed):
            raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE, "the node named another ballot")
        typed = found
    tracking = bytes.fromhex(typed)
    first = _check_on(node, genesis, tracking)
    second = _second_node(genesis, node, second_url)
    checked_by = [node.base]
    if second is not None:
        try:
            if genesis_path is None and fingerprint is not None:
                _pinned_genesis(second, genesis_hash(genesis).hex())
            other = _check_on(second, genesis, tracking)
            if (other.kind, other.status) != (first.kind, first.status):
                fail_localized(ErrorCode.RECEIPT_NODES_DISAGREE, _(
                    "{a} and {b} disagree about this ballot: tell the election office.").format(
                        a=node.base, b=second.base))
            checked_by.append(second.base)
        except click.ClickException as e:
            if getattr(e, "code", None) == ErrorCode.RECEIPT_NOT_FOUND:
                fail_localized(ErrorCode.RECEIPT_NODES_DISAGREE, _(
                    "{a} has this ballot but {b} does not (yet): check again in a minute; "
                    "if it stays so, tell the election office.").format(a=node.base, b=second.base))
            raise
        except NodeError as e:
            if e.code != ErrorCode.CLI_NODE_UNREACHABLE:
                raise
            click.echo(_("Could not reach the second node {node}: checked with one node only.").format(
                node=second.base))
    n = len(genesis.validators)
    click.echo(_("Verified: your ballot {code} is in block {height}.").format(
        code=short_code(typed), height=first.height))
    click.echo(_("Tracking code: {code}").format(code=typed))
    click.echo(_("{k} of the {n} validators named in the genesis signed that block.").format(
        k=first.signatures, n=n))
    if len(checked_by) > 1:
        click.echo(_("Checked with two nodes: {nodes}.").format(nodes=", ".join(checked_by)))
    if first.status == "opened":
        click.echo(_("This ballot was opened for checking and is not counted. "
                     "To vote, cast a ballot."))
    elif first.status == "replaced":
        click.echo(_("This ballot was replaced by a later re-vote ({code}) and is not counted: "
                     "only the last ballot counts.").format(
                         code=short_code(first.replaced_by or "0" * 16)))
    elif first.status == "counted":
        click.echo(_("This ballot is counted."))
    click.echo(_("This proves your ballot was recorded as cast: it cannot be removed or "
                 "changed without every observer noticing."))
    click.echo(_("It does not show how you voted: your ballot stays encrypted, and only the "
                 "total of all ballots is ever decrypted."))
    if first.cancelled:
        click.echo(_("A paper vote at a polling station cancelled this internet vote: it is not "
                     "counted, and this key cannot vote again on the internet."))
