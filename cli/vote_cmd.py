"""``ballotchain vote`` and ``ballotchain receipt verify``: the voter's thin client (ja/en).

Everything that matters happens on the voter's machine: the ballot is encrypted
here under the election's joint key with its validity proofs; a spoiled (audited)
ballot is checked here against what the voter chose; a receipt is checked here
against the genesis validators' keys. The node is only a messenger.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click

from ballot_tx.block import InclusionProof, block_hash, verify_inclusion
from ballot_tx.codec import decode
from ballot_tx.crypto.ballot import encrypt_ballot, verify_spoiled
from ballot_tx.eligibility import one_time_code as otc
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.keys import KeyPair
from ballot_tx.tx import CastBallot, SpoilBallot
from cli import keyfile
from cli.ballot_ui import AUDIT, Screen, ballot_options, describe_choice, fill_ballot, parse_choices
from cli.chain_client import Chain, node_option, parse_id
from cli.common import Group, fail_localized, read_text
from cli.i18n import _, lang_option, language
from cli.node_client import NodeError
from cli.speech import Speaker
from genesis.document import from_json, genesis_hash


def _local(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def phase_words(phase: str) -> str:
    """An election phase as a voter would say it."""
    return {"ceremony": _("not open yet"), "open": _("open"), "closed": _("closed"),
            "decided": _("closed, with its result published")}.get(phase, phase)


def _voter_keys(chain: Chain, eid: bytes, method: str, salt: bytes | None,
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
    chain = Chain(node_url)
    eid = parse_id(election)
    e = chain.election(eid)
    speaker = Speaker(language(), play=speak, wav_path=speak_to)
    screen = Screen(plain, speaker)
    if e.phase != "open" or e.status.joint_key is None:
        fail_localized(ErrorCode.VOTE_NOT_OPEN,
                       _("This election is not accepting ballots now (it is {phase}).").format(
                           phase=phase_words(e.phase)))
    now_ms = int(time.time() * 1000)
    if not e.manifest.start_ms <= now_ms < e.manifest.end_ms:
        fail_localized(ErrorCode.VOTE_NOT_OPEN, _(
            "Voting is open from {start} to {end}; it is not open now.").format(
                start=_local(e.manifest.start_ms), end=_local(e.manifest.end_ms)))
    keys = _voter_keys(chain, eid, e.manifest.eligibility, e.status.code_salt, key_path, code,
                       screen)
    m = e.manifest
    if choices is not None:
        sel = parse_choices(m, choices)
        how = AUDIT if spoil else "cast"
    else:
        sel, how = fill_ballot(screen, m)
        how = AUDIT if spoil else how
    screen.say(_("Encrypting your ballot on this computer..."))
    ballot, secrets = encrypt_ballot(m, e.status.joint_key, keys.ed25519_public, sel)
    if how == AUDIT:
        answer = chain.submit(keys, SpoilBallot(eid, ballot, secrets))
        opened = verify_spoiled(m, e.status.joint_key, keys.ed25519_public, ballot, secrets)
        screen.heading(_("Audited ballot (not counted)"))
        for c, s in zip(m.contests, opened, strict=True):
            screen.say(_("{contest}: {choice}").format(contest=c.title.ja if language() == "ja"
                                                       else c.title.en,
                                                       choice=describe_choice(c, s)))
        screen.say(_("The encrypted ballot was opened and contains exactly your choices: "
                     "this computer encrypted honestly."))
        screen.say(_("This ballot was not counted. Vote again to cast a ballot."))
        screen.say(_("Tracking code of the audited ballot: {code}").format(
            code=answer["tracking_code"]))
    else:
        answer = chain.submit(keys, CastBallot(eid, ballot))
        screen.say(_("Your ballot was cast and recorded in block {height}.").format(
            height=answer.get("height")))
        screen.say(_("Your tracking code: {code}").format(code=answer["tracking_code"]))
        if m.revoting:
            screen.say(_("You may vote again until voting closes; only your last ballot counts."))
        click.echo(_("Check it at any time with: ballotchain receipt verify {code} --node URL "
                     "--genesis genesis.json").format(code=answer["tracking_code"]))
    speaker.close()


@click.group(cls=Group)
def receipt() -> None:
    """Check a ballot's receipt yourself."""


@receipt.command("verify")
@click.argument("code")
@node_option
@click.option("--genesis", "genesis_path", type=click.Path(path_type=Path), required=True,
              envvar="BALLOTCHAIN_GENESIS",
              help="The chain's genesis.json, from the city (it names the validators).")
@lang_option
def receipt_verify(code: str, node_url: str, genesis_path: Path) -> None:
    """Check on this computer that the ballot with tracking CODE is on the chain.

    The node sends the block header, the Merkle path from the ballot to it, and
    the commit certificate; this checks the path, and that enough of the
    validators named in the genesis signed the block. The node is not trusted.
    """
    from consensus.certificate import CommitCertificate, verify_certificate

    tracking = parse_id(code, "tracking code")
    genesis = from_json(read_text(genesis_path))
    chain_id = genesis_hash(genesis)
    try:
        doc = Chain(node_url).node.receipt(tracking)
    except NodeError as err:
        if err.code == ErrorCode.API_NOT_FOUND:
            fail_localized(ErrorCode.RECEIPT_NOT_FOUND, _(
                "No ballot with tracking code {code} is on the chain.").format(code=code))
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
        verify_certificate(genesis, chain_id, cert)
    except (BallotchainError, KeyError, ValueError, TypeError):
        fail_localized(ErrorCode.RECEIPT_BAD_CERTIFICATE, _(
            "Block {height} is not certified by the city's validators.").format(
                height=proof.header.height))
    n = len(genesis.validators)
    click.echo(_("Verified: your ballot {code} is in block {height}.").format(
        code=code, height=proof.header.height))
    click.echo(_("{k} of the {n} validators named in the genesis signed that block.").format(
        k=len(cert.sigs), n=n))
    click.echo(_("This proves your ballot was recorded as cast: it cannot be removed or "
                 "changed without every observer noticing."))
    click.echo(_("It does not show how you voted: your ballot stays encrypted, and only the "
                 "total of all ballots is ever decrypted."))
    if doc.get("cancelled") is True:
        click.echo(_("A paper vote at a polling station cancelled this internet vote: it is not "
                     "counted, and this key cannot vote again on the internet."))
