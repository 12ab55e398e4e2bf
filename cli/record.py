"""The election record: everything needed to verify one election offline from the genesis alone.

Layout of a record directory (docs/roles/auditor.md, "Election record", and
docs/spec/record.md document it for independent verifiers)::

    record.json              index: format, election id, chain id (= genesis hash), height,
                             and the SHA-256 of every other file
    genesis.json             the chain's genesis document, byte for byte as the city published it
    blocks.bin               every block 1..height          (canonical Block encodings)
    certificates.bin         each block's commit certificate (canonical CommitCertificate)
    manifest.bin             the election's manifest        (canonical Manifest)
    lifecycle.bin            create / open / close / publish transactions (canonical Tx)
    ceremony.bin             trustee commitments, encrypted shares, complaints, reveals,
                             acknowledgements (Tx)
    registrations.bin        voter-key registrations, code commitments and cancellations of
                             internet votes by paper votes (Tx)
    ballots.bin              every cast ballot with its proofs, re-votes included (Tx)
    spoiled.bin              spoiled (Benaloh-audited) ballots with their secrets (Tx)
    tally.bin                the encrypted tally of the counted ballots (EncryptedTally)
    decryption_shares.bin    the trustees' decryption shares with proofs (Tx)
    result.bin               the decrypted result (TallyResult)
    *.json                   a JSON view of each .bin file (bytes as hex, fields by name)

Each ``.bin`` file is a sequence of records ``u32 big-endian length || canonical bytes``
(the encoding of ``ballot_tx/codec.py``: msgpack of the fields in order). Every file
is derived from the blocks: an auditor replays ``blocks.bin`` from the genesis
(checking every certificate, signature, proof and state root, and recomputing the
tally), then re-derives every other file and compares it byte for byte, so any
changed byte anywhere is found and named.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballot_tx.block import Block
from ballot_tx.codec import Wire, decode, encode
from ballot_tx.crypto.decryption import TallyResult
from ballot_tx.crypto.tally import EncryptedTally
from ballot_tx.eligibility.one_time_code import CommitCodes
from ballot_tx.eligibility.registered_key import RegisterKeys
from ballot_tx.errors import AuditError, BallotchainError, ErrorCode
from ballot_tx.jsonview import to_json_value
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.replay import CertCheck, ReplayReport, replay
from ballot_tx.tx import (
    CancelInternetVote,
    CastBallot,
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
    SpoilBallot,
    TrusteeAcknowledge,
    TrusteeCommit,
    TrusteeComplaint,
    TrusteeReveal,
    TrusteeShares,
    Tx,
    decode_tx,
    election_of,
)
from consensus.certificate import CommitCertificate, certificate_checker
from genesis.document import Genesis, from_json, genesis_hash

FORMAT = "ballotchain-election-record"
VERSION = 1

TX_FILES: dict[str, tuple[type[Wire], ...]] = {
    "lifecycle": (CreateElection, OpenElection, CloseElection, PublishResult),
    "ceremony": (TrusteeCommit, TrusteeShares, TrusteeComplaint, TrusteeReveal, TrusteeAcknowledge),
    "registrations": (RegisterKeys, CommitCodes, CancelInternetVote),
    "ballots": (CastBallot,),
    "spoiled": (SpoilBallot,),
    "decryption_shares": (PostDecryptionShare,),
}
KINDS = ("blocks", "certificates", "manifest", *TX_FILES, "tally", "result")


def frame(items: Iterable[bytes]) -> bytes:
    return b"".join(len(b).to_bytes(4, "big") + b for b in items)


def unframe(data: bytes, name: str) -> list[bytes]:
    out: list[bytes] = []
    i = 0
    while i < len(data):
        if i + 4 > len(data):
            raise AuditError(ErrorCode.AUDIT_CHAIN_BROKEN, f"{name}: truncated record header")
        n = int.from_bytes(data[i:i + 4], "big")
        if i + 4 + n > len(data):
            raise AuditError(ErrorCode.AUDIT_CHAIN_BROKEN, f"{name}: truncated record {len(out)}")
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def json_view(v: Any) -> Any:
    """Fields by name, bytes as hex, tagged variants with their type (as the node's API)."""
    return to_json_value(v)


def dumps(doc: Any) -> str:
    """The one deterministic JSON text of ``doc`` (so a view can be compared byte for byte)."""
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass
class Derived:
    """Every file's canonical records, derived from the blocks for one election."""

    records: dict[str, list[bytes]]
    views: dict[str, Any]


def derive(eid: bytes, blocks: list[tuple[Block, bytes | None]], manifest: Manifest,
           tally: EncryptedTally | None, result: TallyResult | None) -> Derived:
    rec: dict[str, list[bytes]] = {k: [] for k in KINDS}
    views: dict[str, list[Any]] = {k: [] for k in KINDS}
    for block, cert in blocks:
        rec["blocks"].append(encode(block))
        views["blocks"].append(json_view(block))
        rec["certificates"].append(cert or b"")
        if cert:
            views["certificates"].append(json_view(decode(CommitCertificate, cert)))
        else:
            views["certificates"].append(None)
        for raw in block.txs:
            tx = decode_tx(raw)
            about = election_of(tx.body)
            if about is None and isinstance(tx.body, CreateElection):
                about = election_id(tx.body.manifest)
            if about != eid:
                continue
            for name, classes in TX_FILES.items():
                if isinstance(tx.body, classes):
                    rec[name].append(raw)
                    views[name].append({"height": block.height, "tx_hash": tx.hash.hex(),
                                        "tx": json_view(tx)})
    rec["manifest"] = [encode(manifest)]
    views["manifest"] = [json_view(manifest)]
    if tally is not None:
        rec["tally"], views["tally"] = [encode(tally)], [json_view(tally)]
    if result is not None:
        rec["result"], views["result"] = [encode(result)], [json_view(result)]
    return Derived(rec, dict(views))


def index(eid: bytes, genesis_text: str, height: int, files: dict[str, bytes]) -> str:
    return dumps({
        "format": FORMAT, "version": VERSION, "election_id": eid.hex(),
        "chain_id": genesis_hash(from_json(genesis_text)).hex(), "height": height,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    })


def record_files(eid: bytes, genesis_text: str, d: Derived, height: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {"genesis.json": genesis_text.encode()}
    for k in KINDS:
        files[f"{k}.bin"] = frame(d.records[k])
        files[f"{k}.json"] = dumps(d.views[k]).encode()
    files["record.json"] = index(eid, genesis_text, height, files).encode()
    return files


def write_record(out: Path, files: dict[str, bytes]) -> None:
    out.mkdir(parents=True, exist_ok=False)
    for name, data in files.items():
        (out / name).write_bytes(data)


# --- auditing a record ----------------------------------------------------------------


def _fail(what: str, why: str, code: ErrorCode = ErrorCode.AUDIT_CHAIN_BROKEN) -> AuditError:
    return AuditError(code, f"{what}: {why}")


#: The fields of ``record.json`` (docs/spec/record.md).
INDEX_FIELDS = ("format", "version", "election_id", "chain_id", "height", "files")


def record_names() -> set[str]:
    """Every file ``record.json`` lists (itself excluded): the layout, nothing else."""
    return {f"{k}.{ext}" for k in KINDS for ext in ("bin", "json")} | {"genesis.json"}


def _refuse_unlisted(dir_: Path) -> None:
    """AUDIT_UNLISTED for anything in the record directory outside its layout: an auditor
    would otherwise verify the listed files and silently pass over a planted one."""
    try:
        present = sorted(p.name for p in dir_.iterdir())
    except OSError:
        raise _fail(str(dir_), "not a readable record directory") from None
    allowed = record_names() | {"record.json"}
    for name in present:
        if name not in allowed:
            raise _fail(name, "is not a file of the election record (record.json does not list it)",
                        ErrorCode.AUDIT_UNLISTED)


@dataclass
class RecordAudit:
    report: ReplayReport
    election_id: bytes
    manifest: Manifest
    result: TallyResult | None
    genesis: Genesis


def audit_record(dir_: Path, progress: Callable[[int], None] | None = None,
                 expect_genesis: bytes | None = None,
                 on_start: Callable[[int], None] | None = None) -> RecordAudit:
    """Verify a record directory from its genesis alone; the first failure names the file."""
    def read(name: str) -> bytes:
        try:
            return (dir_ / name).read_bytes()
        except OSError:
            raise _fail(name, "missing from the record") from None

    _refuse_unlisted(dir_)
    try:
        idx = json.loads(read("record.json"))
        if not isinstance(idx, dict):
            raise ValueError("not a JSON object")
        extra = sorted(set(idx) - set(INDEX_FIELDS))
        if extra:
            raise _fail("record.json", f"field {extra[0]!r} is not in the record layout",
                        ErrorCode.AUDIT_UNLISTED)
        eid = bytes.fromhex(idx["election_id"])
        height = int(idx["height"])
        listed: dict[str, str] = dict(idx["files"])
        if idx.get("format") != FORMAT or idx.get("version") != VERSION:
            raise ValueError("not a version-1 Ballotchain election record")
    except (ValueError, KeyError, TypeError) as e:
        raise _fail("record.json", f"malformed ({e})") from None
    unknown = sorted(set(listed) - record_names())
    if unknown:
        raise _fail(unknown[0], "record.json lists a file that is not in the record layout",
                    ErrorCode.AUDIT_UNLISTED)
    genesis_text = read("genesis.json").decode("utf-8", errors="replace")
    try:
        genesis = from_json(genesis_text)
    except BallotchainError as e:
        raise _fail("genesis.json", e.message) from None
    gh = genesis_hash(genesis)
    if expect_genesis is not None and gh != expect_genesis:
        raise _fail("genesis.json", f"its hash {gh.hex()} is not the expected {expect_genesis.hex()}")
    if idx.get("chain_id") != gh.hex():
        raise _fail("record.json", "chain_id is not the hash of genesis.json")
    for name, sha in listed.items():
        if hashlib.sha256(read(name)).hexdigest() != sha:
            raise _fail(name, "its SHA-256 differs from the one in record.json")
    if set(listed) != record_names():
        raise _fail("record.json", "the file list is not the record layout")
    raw_blocks = unframe(read("blocks.bin"), "blocks.bin")
    raw_certs = unframe(read("certificates.bin"), "certificates.bin")
    if len(raw_blocks) != height or len(raw_certs) != height:
        raise _fail("blocks.bin", f"holds {len(raw_blocks)} blocks and {len(raw_certs)} "
                    f"certificates, record.json says {height}")
    blocks: list[tuple[Block, bytes | None]] = []
    for h, (rb, rc) in enumerate(zip(raw_blocks, raw_certs, strict=True), 1):
        try:
            block = decode(Block, rb)
        except BallotchainError as e:
            raise _fail("blocks.bin", f"block {h} does not decode: {e.message}") from None
        blocks.append((block, rc or None))
    if on_start is not None:
        on_start(height)
    by_pos = {block.height: block for block, _ in blocks}
    try:
        replayed, report = replay(genesis, blocks, lambda h, i: by_pos[h].txs[i],
                           _naming_certificate_checker(genesis), progress)
    except AuditError as e:
        where, _, why = e.message.partition(": ") if e.message.startswith(_CERT_FILE) else ("", "", "")
        raise AuditError(e.code, f"{where or 'blocks.bin'}: {why or e.message}") from None
    m = replayed.state.manifest(eid)
    if m is None:
        raise _fail("record.json", "the election is not on the recorded chain")
    derived = derive(eid, blocks, m, replayed.state.tally(eid), replayed.state.result(eid))
    files = record_files(eid, genesis_text, derived, height)
    # record.json last: a forged file with its hash updated is named, not the index.
    for name, data in sorted(files.items(), key=lambda kv: (kv[0] == "record.json", kv[0])):
        if read(name) != data:
            member = _unlisted_field(read(name), data) if name.endswith(".json") else None
            if member is not None:
                raise _fail(name, f"field {member} is not in the record layout", ErrorCode.AUDIT_UNLISTED)
            raise _fail(name, "differs from what the recorded blocks say")
    # tally.bin is the replayed chain's tally byte for byte (above), and the replay summed
    # the counted ballots itself (ballot_tx/replay.py with state.voting.last_ballots: each
    # voter's last ballot, less the paper overrides) and refused a chain whose tally
    # differs (AUDIT_RESULT_MISMATCH).
    return RecordAudit(report, eid, m, replayed.state.result(eid), genesis)


def _unlisted_field(given: bytes, expected: bytes) -> str | None:
    """The path of the first JSON member in ``given`` that the derived view does not have
    (a JSON view with an extra field is refused as unlisted, not just as different)."""
    try:
        a, b = json.loads(given), json.loads(expected)
    except ValueError:
        return None

    def walk(x: Any, y: Any, path: str) -> str | None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(x):
                if k not in y:
                    return f"{path}.{k}" if path else k
                found = walk(x[k], y[k], f"{path}.{k}" if path else k)
                if found:
                    return found
        elif isinstance(x, list) and isinstance(y, list):
            for i, (u, v) in enumerate(zip(x, y, strict=False)):
                found = walk(u, v, f"{path}[{i}]")
                if found:
                    return found
        return None

    return walk(a, b, "")


_CERT_FILE = "certificates.bin: "


def _naming_certificate_checker(genesis: Genesis) -> CertCheck:
    """The audit's certificate check, naming certificates.bin when the certificate itself is
    missing, malformed or badly signed (a certificate for another block names blocks.bin:
    the block's hash is what changed when a header was edited)."""
    check = certificate_checker(genesis)

    def named(height: int, block_hash: bytes, cert: bytes | None) -> None:
        try:
            check(height, block_hash, cert)
        except AuditError as e:
            try:
                c = decode(CommitCertificate, cert or b"")
                other_block = (c.height, c.block_hash) != (height, block_hash)
            except BallotchainError:
                other_block = False
            if other_block:
                raise
            raise AuditError(e.code, f"{_CERT_FILE}{e.message}") from None

    return named


def load_tx_list(data: bytes, name: str) -> list[Tx]:
    return [decode_tx(raw) for raw in unframe(data, name)]
