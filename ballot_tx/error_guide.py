"""What a person does about each error code: the text of docs/errors.md.

``ballot_tx.errors`` says what a code means; this module says who meets it and what they
do next, grouped by the code's prefix. ``python scripts/gen_docs.py`` writes the
guide into docs/errors.md and a test fails when that file is stale, so a new code cannot
go undocumented: it gets its group's advice until it is given its own in ``ACTIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ballot_tx.errors import CODES, ErrorCode


@dataclass(frozen=True)
class Group:
    """Codes sharing a prefix: who meets them and what to do unless ``ACTIONS`` says more."""

    prefixes: tuple[str, ...]
    title: str
    who: str
    action: str


GROUPS: tuple[Group, ...] = (
    Group(("CODEC_",), "Canonical encoding", "anyone who sends bytes to a node or reads a record",
          "encode with the project's code or as docs/spec/encoding.md says; nothing changed"),
    Group(("KEY_", "BAD_PUBLIC_KEY", "BAD_SIGNATURE"), "Keys and signatures", "everyone with a key file",
          "check the file name, the password and that the file was made by `ballotchain keys new`"),
    Group(("GENESIS_", "CONFIG_"), "Genesis and node configuration", "city IT, during the genesis ceremony "
          "and when starting a node", "fix the file or field the message names and run the command again"),
    Group(("CRYPTO_",), "Ballot cryptography", "trustees, auditors, and nodes checking ballots and shares",
          "the object is not what the election's keys and manifest allow: it was refused and nothing "
          "counted; report it to the election commission if it came from a trustee or a node"),
    Group(("MANIFEST_",), "Election manifest", "election officials writing election.toml",
          "fix the line and field the message names, check with `ballotchain election preview`, "
          "then create the election"),
    Group(("TX_", "STATE_"), "Transactions refused by the chain", "anyone posting a transaction "
          "(officials, registrar, trustees, voters)", "read the meaning: the transaction changed nothing; "
          "do the step that is missing, or stop if it was already done"),
    Group(("BLOCK_",), "Blocks refused by the chain", "validators and auditors (a block, never a person, "
          "is refused)", "a validator proposed or sent an invalid block: it was not committed; city IT "
          "checks that validator (metrics `ballotchain_consensus_rejected_total`)"),
    Group(("CONSENSUS_",), "Consensus messages refused", "validators (counted in "
          "`ballotchain_consensus_rejected_total{code}`)", "nothing for a person to do at once; a growing "
          "count points at a faulty or hostile validator or a skewed clock: city IT investigates"),
    Group(("API_",), "HTTP API", "clients of a node or the registrar service", "fix the request "
          "(route, method, body size, content type) or retry later as the message says"),
    Group(("NODE_",), "Node", "city IT and clients", "read the message: retry later for a busy node, "
          "or fix the node home it names"),
    Group(("STORE_", "BACKUP_"), "Storage and backups", "city IT", "see docs/operations.md section 11: "
          "free the disk, fix permissions, or resync a damaged database"),
    Group(("AUDIT_",), "Audit", "auditors and observers", "the record or database does not verify: "
          "keep it, report the code and the file or block named to the election commission"),
    Group(("ELIGIBILITY_",), "Eligibility (ID cards, city login, codes)", "voters registering and the "
          "registrar checking them", "the voter gets a valid card, code or sign-in; nothing was registered"),
    Group(("REGISTRAR_",), "Registrar service", "voters registering from a phone, and the registrar",
          "start the sign-in again from the voting page; the registrar checks the service's configuration"),
    Group(("SPEECH_", "LETTER_"), "Speech and voting letters", "voters using --speak, the registrar "
          "printing letters", "install what the message names (the `speech` or `letters` extra, "
          "espeak-ng, a Noto CJK font)"),
    Group(("VOTE_", "CLI_"), "Voting from the CLI", "voters and anyone using `ballotchain`",
          "correct what you typed as the message says and run the command again"),
    Group(("RECEIPT_",), "Receipts", "voters checking their tracking code", "read the message; nothing "
          "about your ballot changed"),
    Group(("WEB_",), "The voting page", "voters on the /vote/ page", "the page stopped to protect your "
          "vote: do not vote on this page; tell the election office what it says"),
    Group(("USAGE", "IO_ERROR"), "Command line", "anyone using `ballotchain`",
          "see `ballotchain COMMAND --help`; check the file path and its permissions"),
)

#: Advice for codes that need more than their group's.
ACTIONS: dict[ErrorCode, str] = {
    ErrorCode.KEY_WRONG_PASSWORD: "type the password again; the file is unchanged",
    ErrorCode.KEY_PASSWORD_REQUIRED: "give the password (`--password-stdin`, `BALLOTCHAIN_KEY_PASSWORD` or the terminal)",
    ErrorCode.KEY_FILE_EXISTS: "choose another `--out` file: key files are never overwritten",
    ErrorCode.GENESIS_HASH_MISMATCH: "the genesis is not the one the city published: get the right "
                                     "genesis.json, never change the pinned hash to match",
    ErrorCode.CONFIG_TLS: "check the certificate and key paths, their permissions, and that they match",
    ErrorCode.CRYPTO_NOT_ENOUGH_SHARES: "wait until the threshold of trustees has run `trustee decrypt`",
    ErrorCode.STATE_STALE: "a bug in the program that used the state (a snapshot reused after a commit): report it",
    ErrorCode.TX_UNKNOWN_ELECTION: "check the election id (`ballotchain election show ID`) and the node's chain",
    ErrorCode.TX_EXPIRED: "send a fresh transaction (the client sets a new expiry)",
    ErrorCode.TX_DUPLICATE: "nothing: this transaction is already on the chain",
    ErrorCode.TX_UNAUTHORIZED: "sign with the key the genesis names for this role",
    ErrorCode.TX_WRONG_PHASE: "check `ballotchain election status`: do the step when the election is in its phase",
    ErrorCode.TX_OUTSIDE_WINDOW: "vote between the manifest's start and end times (Japan time on the letter)",
    ErrorCode.TX_CEREMONY_INCOMPLETE: "trustees run `ballotchain trustee ceremony` until it says the admin can open",
    ErrorCode.TX_CEREMONY_UNACKNOWLEDGED: "trustees run `trustee ceremony` again; a trustee that never "
                                          "answers may be named with `election open --exclude N`",
    ErrorCode.TX_VOTER_REGISTERED: "nothing: this key is already registered",
    ErrorCode.TX_CARD_TAG_USED: "this person is registered already; a second registration needs the registrar's help",
    ErrorCode.TX_NOT_ELIGIBLE: "register first, or use the key or code you registered",
    ErrorCode.TX_CODE_USED: "this code has voted; each code is good for one ballot",
    ErrorCode.TX_REVOTE_NOT_ALLOWED: "nothing: your first ballot counts in this election",
    ErrorCode.TX_BAD_BALLOT: "vote again from a clean device; report it if it happens twice",
    ErrorCode.TX_TOO_MANY_SPOILS: "cast a ballot instead of checking another",
    ErrorCode.TX_TOO_MANY_BALLOTS: "nothing: your last ballot counts",
    ErrorCode.TX_VOTE_CANCELLED: "nothing: your paper vote counts instead",
    ErrorCode.API_RATE_LIMITED: "retry later",
    ErrorCode.API_COMMIT_TIMEOUT: "check the tracking code later (`receipt verify`, GET /v1/txs/{hash}): it may still commit",
    ErrorCode.NODE_MEMPOOL_FULL: "retry later or use another node",
    ErrorCode.NODE_DUPLICATE_TX: "nothing: the tracking code in the answer is your transaction",
    ErrorCode.NODE_UNAVAILABLE: "retry later or use another node",
    ErrorCode.NODE_STORE_DAMAGED: "`ballotchain node resync --home H` (docs/operations.md section 11)",
    ErrorCode.NODE_ALREADY_RUNNING: "stop the running node first, or use another home",
    ErrorCode.ELIGIBILITY_CARD_EXPIRED: "renew the card, then sign the request again",
    ErrorCode.ELIGIBILITY_CARD_REVOKED: "use the replacement card",
    ErrorCode.ELIGIBILITY_CRL_INVALID: "the registrar fetches a current revocation list from the card authority",
    ErrorCode.ELIGIBILITY_BAD_CODE: "type the code again from the letter (letters and digits, dashes optional)",
    ErrorCode.ELIGIBILITY_TOKEN_EXPIRED: "sign in again",
    ErrorCode.ELIGIBILITY_NO_IDENTITY: "the card is not a signing card with the holder's name and birth date: use one",
    ErrorCode.VOTE_NOT_OPEN: "check the voting window with `ballotchain election status ID`",
    ErrorCode.CLI_NODE_UNREACHABLE: "check `--node` (or BALLOTCHAIN_NODE) and the network, or try another node",
    ErrorCode.RECEIPT_NOT_FOUND: "check the code you typed; if it is right, ask a second node",
    ErrorCode.RECEIPT_BAD_FORMAT: "type the tracking code (64 characters, or its short form of 16), not the voting code",
    ErrorCode.RECEIPT_AMBIGUOUS: "give the full tracking code",
    ErrorCode.RECEIPT_WRONG_CHAIN: "compare the fingerprint with your voting letter and use the city's node",
    ErrorCode.RECEIPT_NODES_DISAGREE: "keep the tracking code and tell the election commission: a node is lying",
    ErrorCode.WEB_NETWORK: "check the connection and try again; the page keeps your tracking code",
    ErrorCode.WEB_NOT_OPEN: "vote within the voting window shown on the letter",
    ErrorCode.MANIFEST_BAD_PROVIDER: "give `login_provider = { issuer, client_id }` exactly as the city's "
    "identity provider names them, and only for a city-login election (docs/registrar.md)",
    ErrorCode.REGISTRAR_PROVIDER_MISMATCH: "serve each provider's elections with its own registrar, or fix "
    "the issuer/client_id pinned in registrar.toml to the one the manifest names",
    ErrorCode.WEB_PROVIDER_MISMATCH: "do not sign in; tell the city: the registrar answered for another login "
    "than the election names",
}


def group_of(code: ErrorCode) -> Group:
    """The group with the longest prefix the code starts with (`MANIFEST_TOML_` before `MANIFEST_`)."""
    best = max(((len(p), g) for g in GROUPS for p in g.prefixes if code.startswith(p)),
               key=lambda pair: pair[0], default=None)
    if best is None:
        raise KeyError(code)
    return best[1]


def markdown_guide() -> str:
    """One section per group: who meets these codes, then code | meaning | what to do."""
    parts: list[str] = []
    for g in GROUPS:
        codes = [c for c in ErrorCode if group_of(c) is g]
        if not codes:
            continue
        names = ", ".join(f"`{p}*`" if p.endswith("_") else f"`{p}`" for p in g.prefixes)
        rows = [f"### {g.title} ({names})", "", f"Met by {g.who}.", "",
                "| code | meaning | what to do |", "| --- | --- | --- |"]
        rows += [f"| `{c}` | {CODES[c]} | {ACTIONS.get(c, g.action)} |" for c in codes]
        parts.append("\n".join(rows))
    return "\n\n".join(parts)
