"""docs/spec against the code, mechanically: every wire object's layout (field names, order
and types), every transaction kind (tag, type, name), every hash kind, every object KIND,
every signature kind and every state record prefix is documented, and nothing documented
is missing from the code; every consensus wire type, body tag, signature kind, error code
and limit is in consensus.md. Also the independent verifier's layouts match the code."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

from ballot_tx.block import Block, InclusionProof
from ballot_tx.codec import Wire
from ballot_tx.crypto.ballot import SpoiledBallot
from ballot_tx.crypto.tally import EncryptedTally
from ballot_tx.errors import ErrorCode
from ballot_tx.state import records
from ballot_tx.state.records import ElectionStatus, OpenElections, VoterRecord
from ballot_tx.tx import KIND_NAMES, Tx, TxPayload
from consensus import certificate, events, messages, replica
from consensus.certificate import CommitCertificate
from consensus.events import SafetyRecord
from consensus.messages import Commit, ConsensusMessage
from genesis.document import Genesis
from node import integrity, peer_envelope
from tests.independent import independent_verifier as iv
from tests.spec.layouts import layout, reachable

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "spec"
HEADING = re.compile(r"^#{2,5} `(\w+)`")


def documented_classes() -> dict[str, type]:
    """The objects docs/spec must lay out: all that a record, a block or the state holds."""
    return reachable([Genesis, Block, Tx, TxPayload, CommitCertificate, SpoiledBallot, InclusionProof,
                      ElectionStatus, VoterRecord, OpenElections, EncryptedTally, Commit,
                      ConsensusMessage, SafetyRecord, peer_envelope.Envelope])


def doc_tables() -> dict[str, list[tuple[str, str]]]:
    """``#### `Name` `` headings followed by a ``| # | field | type |`` table."""
    out: dict[str, list[tuple[str, str]]] = {}
    for md in sorted(SPEC.glob("*.md")):
        lines = md.read_text().splitlines()
        for i, line in enumerate(lines):
            m = HEADING.match(line)
            if not m:
                continue
            j = i + 1
            while j < len(lines) and not lines[j].startswith("|"):
                if lines[j].startswith("#"):
                    break
                j += 1
            if j >= len(lines) or not lines[j].startswith("| # | field | type"):
                continue
            rows = []
            for row in lines[j + 2:]:
                if not row.startswith("|"):
                    break
                cells = [c.strip().strip("`") for c in row.strip("|").split("|")]
                rows.append((cells[1], cells[2]))
            assert m.group(1) not in out, f"{m.group(1)} laid out twice ({md.name})"
            out[m.group(1)] = rows
    return out


def spec_text() -> str:
    return "\n".join(p.read_text() for p in sorted(SPEC.glob("*.md")))


def test_every_layout_is_documented_exactly() -> None:
    tables = doc_tables()
    classes = documented_classes()
    missing = sorted(set(classes) - set(tables))
    assert not missing, f"docs/spec lacks layout tables for {missing}"
    for name, cls in classes.items():
        assert tables[name] == layout(cls), f"docs/spec layout of {name} differs from the code"
    unknown = sorted(set(tables) - set(classes))
    assert not unknown, f"docs/spec lays out objects the code does not have: {unknown}"


def test_every_transaction_kind_is_a_table_row() -> None:
    text = (SPEC / "transactions.md").read_text()
    for cls, name in KIND_NAMES.items():
        row = f"| {cls.TAG} | `{cls.__name__}` | `{name}` |"
        assert row in text, f"transactions.md has no kind row {row}"
    kinds_table = text.split("## 2. Kinds", 1)[1].split("### 2.1", 1)[0]
    tags = re.findall(r"^\| (\d+) \| `(\w+)` \| `([\w-]+)` \|", kinds_table, re.M)
    assert len(tags) == len(KIND_NAMES)


def code_literals(pattern: str) -> set[str]:
    out: set[str] = set()
    for pkg in ("ballot_tx", "consensus", "genesis", "node"):
        for py in (ROOT / pkg).rglob("*.py"):
            if "sim" in py.parts:
                continue
            out |= set(re.findall(pattern, py.read_text()))
    return out


def test_every_hash_kind_and_signature_kind_is_documented() -> None:
    text = (SPEC / "encoding.md").read_text()
    kinds = code_literals(r'(?:hash_bytes|hash_to_scalar|hash_to_point|domain)\(\s*"([\w/.-]+)"')
    kinds |= code_literals(r'KIND(?::\s*ClassVar\[str\])?\s*=\s*"([\w/.-]+)"')
    kinds |= code_literals(r'SIGN_KIND\s*=\s*"([\w/.-]+)"')
    kinds -= {"sim/block"}
    undocumented = sorted(k for k in kinds if f"`{k}`" not in text)
    assert not undocumented, f"encoding.md does not list the kinds {undocumented}"


def state_record_keys() -> list[bytes]:
    """A sample key from every key builder of ballot_tx/state/records.py (each ``*_key``
    function, called with an id and small indices), and ``KEY_OPEN``."""
    keys = [records.KEY_OPEN]
    for name, fn in vars(records).items():
        if name.endswith("_key") and inspect.isfunction(fn) and fn.__module__ == records.__name__:
            params = inspect.signature(fn).parameters.values()
            keys.append(fn(*(1 if p.annotation == "int" else bytes(32) for p in params)))
    return keys


def test_every_state_record_is_documented() -> None:
    text = (SPEC / "state.md").read_text()
    prefixes = {chr(key[0]) for key in state_record_keys()}
    assert len(prefixes) == len(state_record_keys()) == 16  # one prefix per record
    for p in sorted(prefixes):
        assert f"| `{p}`" in text, f"state.md has no record row for prefix {p}"


def test_the_independent_verifier_lays_out_what_the_code_does() -> None:
    for name, fields in iv.SCHEMA.items():
        cls = documented_classes().get(name)
        assert cls is not None, name
        assert fields == layout(cls), name  # names, order, types and bounds
    assert {tag: name for tag, (name, _) in iv.TX_KINDS.items()} == {
        c.TAG: c.__name__ for c in KIND_NAMES}
    assert {name for _, name in iv.TX_KINDS.values()} == set(KIND_NAMES.values())


def test_wire_base_is_what_the_spec_describes() -> None:
    assert issubclass(Tx, Wire)
    assert "ballotchain/v1/" in spec_text()


def test_record_files_and_their_kinds_are_documented() -> None:
    from cli.record import KINDS, TX_FILES

    text = (SPEC / "record.md").read_text()
    for name in KINDS:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}.bin` / `.json`")), None)
        assert row is not None, f"record.md has no row for {name}"
        for cls in TX_FILES.get(name, ()):
            assert f"`{cls.__name__}`" in row, f"record.md: {cls.__name__} is not listed in {name}"
    assert iv.KINDS == list(KINDS)
    assert iv.TX_FILES == {k: tuple(c.__name__ for c in v) for k, v in TX_FILES.items()}


# --- consensus.md ----------------------------------------------------------------------

CONSENSUS_MD = SPEC / "consensus.md"
#: laid out in blocks.md (they are in a record), referenced from consensus.md
IN_BLOCKS_MD = {"Commit", "VoteSig", "CommitCertificate"}


def consensus_wire_types() -> dict[str, type]:
    """Every wire class the consensus modules define, and the peer envelope."""
    out: dict[str, type] = {"Envelope": peer_envelope.Envelope}
    for mod in (messages, events, certificate, replica):
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, Wire) and obj.__module__ == mod.__name__:
                out[name] = obj
    return out


def test_every_consensus_wire_type_is_laid_out_in_consensus_md() -> None:
    text = CONSENSUS_MD.read_text()
    tables = doc_tables()
    own = {name for name in tables if f"#### `{name}`" in text}
    for name, cls in consensus_wire_types().items():
        assert tables.get(name) == layout(cls), f"docs/spec layout of {name} differs from the code"
        if name in IN_BLOCKS_MD:
            assert f"`{name}`" in text, f"consensus.md does not refer to {name}"
        else:
            assert name in own, f"consensus.md has no layout table for {name}"


def test_every_consensus_body_is_a_tag_row_with_its_signature_kind() -> None:
    text = CONSENSUS_MD.read_text()
    members = typing.get_args(messages.Body)
    for cls in members:
        row = f"| {cls.TAG} | `{cls.__name__}` | `{cls.KIND}` |"
        assert row in text, f"consensus.md has no body row {row}"
    assert len(re.findall(r"^\| \d+ \| `\w+` \| `pbft/[\w-]+` \|", text, re.M)) == len(members)
    # every signature kind of the consensus modules and of the peer transport is named
    kinds = {c.KIND for c in consensus_wire_types().values() if "KIND" in vars(c)}
    kinds |= {peer_envelope.SIGN_KIND, peer_envelope.PREAMBLE_KIND}
    for k in sorted(kinds):
        assert f"`{k}`" in text, f"consensus.md does not name the kind {k}"
    assert f"`{peer_envelope.PEER_HEADER}`" in text


def test_every_consensus_code_and_limit_is_in_consensus_md() -> None:
    text = CONSENSUS_MD.read_text()
    for code in ErrorCode:
        if code.startswith("CONSENSUS_"):
            assert f"| `{code}` |" in text, f"consensus.md's error table lacks {code}"
    numbers = {
        "message limit": messages.MAX_MESSAGE_SIZE, "carried blocks": replica.CARRY_BUDGET,
        "safety record limit": SafetyRecord.MAX_SIZE, "envelope limit": peer_envelope.ENVELOPE_MAX,
        "unannounced peer body": peer_envelope.UNAUTH_PEER_BYTES, "preamble window": peer_envelope.PREAMBLE_WINDOW_MS,
        "held messages per sender": replica.HOLD_PER_SENDER, "fetch blocks": peer_envelope.MAX_FETCH_BLOCKS,
    }
    for what, n in numbers.items():
        assert f"{n:,}" in text or f" {n} " in text or f" {n}\n" in text, f"consensus.md lacks the {what} ({n})"
    assert f"min(v - p, {replica.MAX_BACKOFF})" in text
    assert f"v < w <= v + {replica.FUTURE_VIEWS}" in text
    for timer in (replica.VIEW_TIMER, replica.FETCH_TIMER):
        assert f'SetTimer("{timer}"' in text
    assert f"at most {peer_envelope.MAX_FETCH_BYTES >> 20} MiB of items" in text
    assert f'"node/" || "{integrity.SAFETY_KEY.decode()}"' in text
