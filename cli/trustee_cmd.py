"""``ballotchain trustee``: key generation, the key ceremony, and decrypting the tally.

A trustee's secret never leaves its key file: its polynomial is derived from the
key and the election id (``crypto.trustees.polynomial``), so ``ceremony`` and
``decrypt`` recompute what they need on the trustee's own machine each time, and
only commitments, encrypted shares, acknowledgements, complaints, reveals and the
decryption share (with its proof) are posted.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ballot_tx.crypto import decryption
from ballot_tx.crypto import trustees as tr
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.keys import KeyPair
from ballot_tx.state.ceremony import qualified_trustees, unacknowledged_pairs
from ballot_tx.state.records import (
    acknowledgement_key,
    commitment_key,
    complaint_key,
    reveal_key,
    shares_key,
)
from ballot_tx.tx import (
    PostDecryptionShare,
    TrusteeAcknowledge,
    TrusteeCommit,
    TrusteeComplaint,
    TrusteeReveal,
    TrusteeShares,
    Tx,
    acknowledgement,
)
from cli import keyfile
from cli.chain_client import (
    ChainClient,
    ElectionInfo,
    decryption_shares,
    key_option,
    load_key,
    node_option,
    parse_id,
    qualified_commitments,
    trustee_commitments,
)
from cli.common import Group, fail, read_password_stdin
from node.homes import write_private


@click.group(cls=Group)
def trustee() -> None:
    """Trustees: make a key, run the key ceremony, decrypt the tally after close."""


@trustee.command("keygen")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Trustee key file to create (0600); NAME.pub is written beside it.")
@click.option("--password-stdin", is_flag=True, help="Encrypt the key file with a password from stdin.")
def trustee_keygen(out: Path, password_stdin: bool) -> None:
    """Make a trustee key, and its public file for the election.toml's [[trustees]] public_key."""
    password = read_password_stdin() if password_stdin else None
    kp = KeyPair.generate()
    keyfile.save(out, kp, password)
    pub = out.with_suffix(".pub")
    write_private(pub, json.dumps({"type": "ballotchain-public-key",
                                   "ed25519_public": kp.ed25519_public.hex(),
                                   "x25519_public": kp.x25519_public.hex(),
                                   "node_id": kp.node_id}, indent=2) + "\n")
    pub.chmod(0o644)
    click.echo(f"wrote {out} (secret, 0600) and {pub} (public: give it to the election officials)")


def _index(e: ElectionInfo, keys: KeyPair) -> int:
    for i, t in enumerate(e.manifest.trustees, 1):
        if t.ed25519_public == keys.ed25519_public:
            return i
    fail(ErrorCode.USAGE, "this key is not one of the election's trustees")


class Ceremony:
    """What the chain says about the ceremony of one election."""

    def __init__(self, chain: ChainClient, e: ElectionInfo) -> None:
        txs = chain.election_bodies(e.election_id)
        self.commits = trustee_commitments(txs)
        self.posted = {tx.body.shares[0].sender: tx.body for tx in txs
                       if isinstance(tx.body, TrusteeShares) and tx.body.shares}
        self.shares = {i: sent.shares for i, sent in self.posted.items()}
        self.complaints = [tx.body.complaint for tx in txs if isinstance(tx.body, TrusteeComplaint)]
        self.reveals = [tx.body.reveal for tx in txs if isinstance(tx.body, TrusteeReveal)]
        index = {t.ed25519_public: i for i, t in enumerate(e.manifest.trustees, 1)}
        #: (dealer, recipient) pairs the recipient acknowledged on chain
        self.acks = {(a.dealer, index[tx.signer]) for tx in txs
                     if isinstance(tx.body, TrusteeAcknowledge) and tx.signer in index
                     for a in tx.body.acks}
        self.txs: list[Tx] = txs
        self.manifest = e.manifest
        self.election_id = eid = e.election_id
        # the ceremony's records as the chain keys them, so that the chain's own rules
        # (ballot_tx.state.ceremony) say who is qualified and which pairs are open
        self.records: set[bytes] = (
            {commitment_key(eid, i) for i in self.commits}
            | {shares_key(eid, i) for i in self.shares}
            | {complaint_key(eid, complaint.dealer, complaint.accuser) for complaint in self.complaints}
            | {reveal_key(eid, reveal.dealer, reveal.recipient) for reveal in self.reveals}
            | {acknowledgement_key(eid, dealer, recipient) for dealer, recipient in self.acks}
        )

    def _record(self, key: bytes) -> bytes | None:
        return b"" if key in self.records else None

    def candidates(self) -> list[int]:
        """The trustees the chain would qualify now: committed, shares sent, every complaint
        against them answered (``ballot_tx.state.ceremony.qualified_trustees``)."""
        return qualified_trustees(self._record, self.election_id, self.manifest)

    def open_pairs(self) -> list[tuple[int, int]]:
        """(dealer, recipient) pairs among the candidates that the recipient has neither
        acknowledged nor had answered by a reveal: the chain refuses to open until none is
        left (``ballot_tx.state.ceremony.unacknowledged_pairs``)."""
        return unacknowledged_pairs(self._record, self.election_id, self.candidates())


def received_shares(e: ElectionInfo, c: Ceremony, me: int, keys: KeyPair) -> tuple[dict[int, int], list[int]]:
    """Shares addressed to us that open and match (or were revealed); and the dealers whose don't."""
    m = e.manifest
    good: dict[int, int] = {}
    bad: list[int] = []
    for reveal in c.reveals:
        if reveal.recipient == me and reveal.dealer in c.commits:
            try:
                good[reveal.dealer] = tr.verify_reveal(m, c.commits[reveal.dealer], reveal)
            except BallotchainError:
                pass
    for dealer, shares in c.shares.items():
        if dealer == me or dealer in good or dealer not in c.commits:
            continue
        mine = [s for s in shares if s.recipient == me]
        try:
            if not mine:
                raise BallotchainError(ErrorCode.CRYPTO_BAD_SHARE, "no share for us")
            good[dealer] = tr.open_share(m, keys, c.commits[dealer], mine[0])
        except BallotchainError:
            bad.append(dealer)
    return good, bad


def print_status(e: ElectionInfo, c: Ceremony) -> None:
    m = e.manifest
    n = len(m.trustees)
    click.echo(f"key ceremony of {m.name}: {n} trustees, threshold {m.threshold}, "
               f"phase {e.phase}")
    for i, t in enumerate(m.trustees, 1):
        against = sum(1 for complaint in c.complaints if complaint.dealer == i)
        answered = sum(1 for reveal in c.reveals if reveal.dealer == i)
        steps = [("committed" if i in c.commits else "not committed"),
                 ("shares sent" if i in c.shares else "shares not sent")]
        if n > 1:
            checked = sum(1 for dealer in range(1, n + 1) if (dealer, i) in c.acks)
            steps.append(f"acknowledged {checked} of {n - 1} trustees' shares")
        made = [complaint.dealer for complaint in c.complaints if complaint.accuser == i]
        if made:
            steps.append("complained about " + ", ".join(map(str, made)))
        if against:
            steps.append(f"{against} complaint(s) against it, {answered} answered")
        click.echo(f"  {i}. {t.name:30} " + ", ".join(steps))
    if e.phase != "ceremony":
        return
    everyone = len(c.commits) == n and len(c.shares) == n
    pairs = c.open_pairs()
    if everyone and not pairs and len(c.candidates()) >= m.threshold:
        click.echo("every trustee's shares are sent, checked and acknowledged: "
                   "the admin can open the election")
    elif pairs and len(c.shares) == n:
        shown = "; ".join(f"trustee {j} to check trustee {i}'s shares" for i, j in pairs[:4])
        click.echo(f"waiting for {shown}" + (" ..." if len(pairs) > 4 else ""))
    else:
        click.echo("waiting for the trustees above")


@trustee.command("ceremony")
@click.argument("election")
@key_option("trustee")
@node_option
def trustee_ceremony(election: str, key_path: Path, node_url: str) -> None:
    """Do this trustee's next key-ceremony steps, checking everyone else's, and show who has done what.

    Run it again after the other trustees: step 1 posts the commitment; once every
    trustee has committed, step 2 posts the encrypted shares; step 3 opens the shares
    received and checks them against their dealers' commitments, acknowledging the
    good ones on chain and answering a bad one with a complaint; a complaint against
    this trustee is answered by revealing that share. The admin can open the election
    once every pair of trustees is acknowledged or its complaint answered.
    """
    chain = ChainClient(node_url)
    eid = parse_id(election)
    e = chain.election(eid)
    keys = load_key(key_path)
    me = _index(e, keys)
    m = e.manifest
    c = Ceremony(chain, e)
    if e.phase != "ceremony":
        print_status(e, c)
        fail(ErrorCode.USAGE, f"the ceremony is over: the election is {e.phase}")
    coeffs = tr.polynomial(m, me, keys)
    mine = tr.make_commitment(m, me, coeffs)
    if me not in c.commits:
        chain.submit(keys, TrusteeCommit(eid, mine))
        click.echo(f"step 1: posted the commitment of trustee {me}")
        c = Ceremony(chain, e)
    if me not in c.shares and len(c.commits) == len(m.trustees):
        chain.submit(keys, TrusteeShares(eid, tr.make_shares(m, me, keys, coeffs, c.commits[me])))
        click.echo(f"step 2: posted encrypted shares for the {len(m.trustees) - 1} other trustees")
    c = Ceremony(chain, e)
    good, bad = received_shares(e, c, me, keys)
    complained = {complaint.dealer for complaint in c.complaints if complaint.accuser == me}
    for dealer in bad:
        if dealer not in complained:
            chain.submit(keys, TrusteeComplaint(eid, tr.make_complaint(m, dealer, me)))
            click.echo(f"step 3: the share from trustee {dealer} does not match its commitment: "
                       "complaint posted")
    verified = {dealer: c.posted[dealer] for dealer in sorted(good)
                if dealer in c.posted and dealer not in complained and (dealer, me) not in c.acks}
    if verified:
        chain.submit(keys, acknowledgement(eid, me, verified))
        click.echo(f"step 3: the shares from trustee(s) {', '.join(map(str, verified))} open and match "
                   "their commitments: acknowledged")
    for complaint in c.complaints:
        if complaint.dealer == me and not any(
                reveal.dealer == me and reveal.recipient == complaint.accuser for reveal in c.reveals):
            chain.submit(keys, TrusteeReveal(eid, tr.make_reveal(m, me, coeffs, complaint.accuser)))
            click.echo(f"answered the complaint of trustee {complaint.accuser} by revealing its share")
    e = chain.election(eid)
    print_status(e, Ceremony(chain, e))


@trustee.command("decrypt")
@click.argument("election")
@key_option("trustee")
@node_option
def trustee_decrypt(election: str, key_path: Path, node_url: str) -> None:
    """After close: post this trustee's share of the tally's decryption, with its proof.

    Only the sum of all counted ballots is decrypted, never a single ballot.
    """
    chain = ChainClient(node_url)
    eid = parse_id(election)
    e = chain.election(eid)
    keys = load_key(key_path)
    me = _index(e, keys)
    m = e.manifest
    if e.phase != "closed" or e.tally is None:
        fail(ErrorCode.USAGE, f"the election is {e.phase}: the tally is decrypted after close")
    if me not in e.status.qualified:
        fail(ErrorCode.USAGE, f"trustee {me} was disqualified in the ceremony and cannot decrypt")
    c = Ceremony(chain, e)
    posted = decryption_shares(c.txs)
    if any(s.trustee == me for s in posted):
        fail(ErrorCode.USAGE, f"trustee {me} has already posted its decryption share")
    good, _ = received_shares(e, c, me, keys)
    coms = qualified_commitments(e, c.txs)
    secret_share = tr.combined_share(m, me, tr.polynomial(m, me, keys), good, coms)
    share = decryption.make_decryption_share(m, e.tally, me, secret_share)
    answer = chain.submit(keys, PostDecryptionShare(eid, share))
    have = len(posted) + 1
    click.echo(f"decryption share of trustee {me} posted in block {answer.get('height')} "
               f"({have} of the {m.threshold} needed)")
    if have >= m.threshold:
        click.echo(f"enough shares: publish with 'ballotchain election publish {eid.hex()}'")
