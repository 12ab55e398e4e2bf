"""The chain as the CLI sees it through a node: elections, blocks, signed submissions.

The node's JSON carries the canonical bytes of everything a client must rely on
(``manifest_bytes``, ``status_bytes``, ``block_bytes``...); these are decoded
here with the one codec and checked (a manifest must hash to the election id
asked for), so the CLI never trusts the JSON rendering. Ceremony steps and
decryption shares are read from the blocks themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from ballot_tx.block import Block
from ballot_tx.codec import Wire, decode
from ballot_tx.crypto.decryption import DecryptionShare, TallyResult
from ballot_tx.crypto.tally import EncryptedTally
from ballot_tx.crypto.trustees import TrusteeCommitment
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.state.records import PHASE_NAMES, ElectionStatus, Phase
from ballot_tx.tx import (
    CLIENT_TX_LIFETIME_MS,
    CreateElection,
    PostDecryptionShare,
    TrusteeCommit,
    Tx,
    TxBody,
    decode_tx,
    election_of,
    sign_tx,
)
from cli import keyfile
from cli.node_client import NodeClient, NodeError

#: A click command function, typed through the option decorators below.
F = TypeVar("F", bound=Callable[..., Any])


def node_option(f: F) -> F:
    return click.option("--node", "node_url", envvar="BALLOTCHAIN_NODE", required=True,
                        help="URL of a node's client API, e.g. http://127.0.0.1:7100 "
                             "(or set BALLOTCHAIN_NODE).")(f)


def key_option(role: str) -> Callable[[F], F]:
    def deco(f: F) -> F:
        return click.option("--key", "key_path", type=click.Path(path_type=Path), required=True,
                            help=f"The {role}'s key file.")(f)
    return deco


def parse_id(value: str, what: str = "election id") -> bytes:
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise NodeError(ErrorCode.USAGE, f"the {what} must be 64 hexadecimal characters")
    return raw


def _bytes(doc: dict[str, Any], key: str) -> bytes:
    value = doc.get(key)
    try:
        if isinstance(value, str):
            return bytes.fromhex(value)
    except ValueError:
        pass
    raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE, f"the node's answer lacks {key}")


def _decode(cls: type[Any], doc: dict[str, Any], key: str) -> Any:
    try:
        return decode(cls, _bytes(doc, key))
    except BallotchainError as e:
        raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE, f"{key} does not decode: {e.message}"
                        ) from None


@dataclass(frozen=True)
class ElectionInfo:
    election_id: bytes
    manifest: Manifest
    status: ElectionStatus
    tally: EncryptedTally | None
    height: int

    @property
    def phase(self) -> str:
        return PHASE_NAMES.get(Phase(self.status.phase), str(self.status.phase))


class ChainClient:
    """The chain through one node, seen through the canonical bytes it serves (``NodeClient``
    is the same node's JSON)."""

    def __init__(self, url: str) -> None:
        self.node = NodeClient(url)
        self._chain_id: bytes | None = None

    @property
    def chain_id(self) -> bytes:
        if self._chain_id is None:
            self._chain_id = parse_id(str(self.node.status().get("chain_id", "")), "chain id")
        return self._chain_id

    def election(self, eid: bytes) -> ElectionInfo:
        doc = self.node.election(eid)
        m = _decode(Manifest, doc, "manifest_bytes")
        if election_id(m) != eid:
            raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE,
                            "the node served a manifest that does not hash to this election id")
        status = _decode(ElectionStatus, doc, "status_bytes")
        tally = (_decode(EncryptedTally, doc, "tally_bytes")
                 if doc.get("tally_bytes") else None)
        return ElectionInfo(eid, m, status, tally, int(doc.get("as_of_height", 0)))

    def result(self, eid: bytes) -> TallyResult | None:
        try:
            doc = self.node.result(eid)
        except NodeError as e:
            if e.code == ErrorCode.API_NOT_FOUND:
                return None
            raise
        result: TallyResult = _decode(TallyResult, doc, "result_bytes")
        return result

    def height(self) -> int:
        return int(self.node.status().get("height", 0))

    def block(self, height: int) -> tuple[Block, bytes | None]:
        doc = self.node.block(height)
        block: Block = _decode(Block, doc, "block_bytes")
        if block.height != height:
            raise NodeError(ErrorCode.CLI_NODE_BAD_RESPONSE, f"asked for block {height}, got {block.height}")
        cert = doc.get("certificate_bytes")
        return block, (bytes.fromhex(cert) if isinstance(cert, str) else None)

    def blocks(self, start: int = 1, end: int | None = None) -> Iterator[tuple[Block, bytes | None]]:
        top = self.height() if end is None else end
        for h in range(start, top + 1):
            yield self.block(h)

    def election_txs(self, eid: bytes) -> list[tuple[int, int, Tx]]:
        """Every transaction about ``eid`` (its creation included), in chain order."""
        out = []
        for block, _ in self.blocks():
            for i, raw in enumerate(block.txs):
                tx = decode_tx(raw)
                about = election_of(tx.body)
                if about is None and isinstance(tx.body, CreateElection):
                    about = election_id(tx.body.manifest)
                if about == eid:
                    out.append((block.height, i, tx))
        return out

    def election_bodies(self, eid: bytes) -> list[Tx]:
        """``election_txs`` without the positions: read once, then handed to the readers below."""
        return [tx for _, _, tx in self.election_txs(eid)]

    def submit(self, keys: KeyPair, body: TxBody, wait: bool = True) -> dict[str, Any]:
        """Sign ``body`` for this chain and post it; by default wait for the commit."""
        now = int(time.time() * 1000)
        tx = sign_tx(keys, self.chain_id, body, now + CLIENT_TX_LIFETIME_MS)
        from ballot_tx.codec import encode

        return self.node.post_tx(encode(tx), wait=wait)


# --- what an election's transactions say (read once with ``election_bodies``) -----------


def decryption_shares(txs: list[Tx]) -> list[DecryptionShare]:
    """The trustees' posted decryption shares, in chain order."""
    return [tx.body.share for tx in txs if isinstance(tx.body, PostDecryptionShare)]


def trustee_commitments(txs: list[Tx]) -> dict[int, TrusteeCommitment]:
    """Each trustee's commitment by index, as the chain keeps it: the first one posted."""
    out: dict[int, TrusteeCommitment] = {}
    for tx in txs:
        if isinstance(tx.body, TrusteeCommit):
            out.setdefault(tx.body.commitment.index, tx.body.commitment)
    return out


def qualified_commitments(e: ElectionInfo, txs: list[Tx]) -> list[TrusteeCommitment]:
    """The commitments of the trustees the ceremony qualified, in index order (what the
    result's decryption is checked against)."""
    by_index = trustee_commitments(txs)
    return [by_index[i] for i in e.status.qualified if i in by_index]


def load_key(path: Path) -> KeyPair:
    return keyfile.load(path)


def body_of(tx: Tx, cls: type[Wire]) -> Any:
    return tx.body if isinstance(tx.body, cls) else None
