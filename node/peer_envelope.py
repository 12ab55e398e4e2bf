"""The signed peer message format: envelopes, the preamble header, topics and limits.

Every peer POST carries one ``Envelope``: the sender's Ed25519 key, a topic, a
batch of opaque payloads, and the sender's signature over all of it under the
chain id. The receiver checks, in order of cost: size, decoding, that the
sender is a genesis member (a validator, for the consensus topic), then the
signature; only then are payloads handed to the runtime. So a stranger costs
one decode and one dictionary lookup, and cannot inject consensus messages.

Bodies are bounded before they are read. The envelope's signature covers the
body, so it can only be checked after reading it; a stranger could otherwise
make a node buffer ``ENVELOPE_MAX`` bytes per connection. So a body larger than
``UNAUTH_PEER_BYTES`` must be announced by a ``X-Ballotchain-Peer`` header: the
sender's key, the time, and its signature over (topic, body length, time). The
header is checked (member lookup, freshness, replay, one signature) before the
first byte of the body is read; without it, or with a bad one, the request is
refused from its ``Content-Length`` alone (413 or 403).

This module is the format both sides share (no sockets): the server side is
``node.peer_routes``, the sending side ``node.peer_link``, block fetching
``node.sync``; keeping it apart lets each of them, and the spec tests, name the
format without pulling in the others.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from ballot_tx.codec import Bytes32, Bytes64, MaxLen, Wire, decode, encode, pack
from ballot_tx.errors import BallotchainError, CodecError, ErrorCode
from ballot_tx.keys import KeyPair, verify
from genesis.document import Genesis

TOPIC_CONSENSUS = "consensus"
TOPIC_TXS = "txs"
TOPICS = (TOPIC_CONSENSUS, TOPIC_TXS)
#: The preamble topic of ``GET /p2p/stream`` (announced with length 0): a stream carries
#: envelopes of both topics.
TOPIC_STREAM = "stream"
#: Ping interval of a stream, at both ends: a peer that answers no ping within half of
#: it is gone (its connection closed, the sender's link reconnects).
STREAM_HEARTBEAT_S = 10.0
#: How soon after handling a frame the receiver acknowledges it (one acknowledgement
#: covers every frame handled meanwhile).
STREAM_ACK_S = 0.05
_ACK_BYTES = 8
ENVELOPE_MAX = 32 << 20
SIGN_KIND = "p2p-envelope"
MAX_FETCH_BLOCKS = 64
MAX_FETCH_BYTES = 16 << 20
#: Largest peer body accepted without the authenticated ``X-Ballotchain-Peer`` header.
UNAUTH_PEER_BYTES = 64 << 10
PEER_HEADER = "X-Ballotchain-Peer"
PREAMBLE_KIND = "p2p-preamble"
#: How far a preamble's time may be from ours (generous: a skewed clock must not cut a validator off).
PREAMBLE_WINDOW_MS = 600_000
PREAMBLE_SEEN_MAX = 50_000


class PeerError(BallotchainError):
    """A peer message that must be refused."""


@dataclass(frozen=True)
class Envelope(Wire):
    KIND = "p2p-envelope"
    MAX_SIZE = ENVELOPE_MAX

    sender: Bytes32
    topic: Annotated[str, MaxLen(32)]
    payloads: Annotated[tuple[bytes, ...], MaxLen(100_000)]
    signature: Bytes64


def _signed_body(sender: bytes, topic: str, payloads: Sequence[bytes]) -> bytes:
    return pack([sender, topic, list(payloads)])


def seal(keys: KeyPair, chain_id: bytes, topic: str, payloads: Sequence[bytes]) -> bytes:
    """Encode and sign one envelope from this node."""
    sig = keys.sign(SIGN_KIND, chain_id, _signed_body(keys.ed25519_public, topic, payloads))
    return encode(Envelope(keys.ed25519_public, topic, tuple(payloads), sig))


def _decode_envelope(data: bytes) -> Envelope:
    try:
        return decode(Envelope, data)
    except CodecError as e:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"bad envelope: {e.message}") from None


def open_envelope(genesis: Genesis, chain_id: bytes, data: bytes, topic: str) -> Envelope:
    """Decode and authenticate an envelope for ``topic``; raise ``PeerError`` otherwise."""
    env = _decode_envelope(data)
    if env.topic != topic:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"topic {env.topic!r} on the {topic} route")
    return _authenticate(genesis, chain_id, env)


def open_stream_frame(genesis: Genesis, chain_id: bytes, data: bytes, sender: bytes) -> Envelope:
    """Decode and authenticate one frame of a peer stream opened by ``sender`` (the key
    its ``X-Ballotchain-Peer`` header proved): an envelope of either topic, from that
    same sender; raise ``PeerError`` otherwise. The frame is checked exactly as a POST
    of its topic would be: the stream saves the HTTP request, not a check."""
    env = _decode_envelope(data)
    if env.topic not in TOPICS:
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"unknown topic {env.topic!r}")
    if env.sender != sender:
        # (another member's envelope relayed on this stream: its signature might verify,
        # but a stream speaks for the member who opened it and nobody else)
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "envelope from another sender than the stream's")
    return _authenticate(genesis, chain_id, env)


def _authenticate(genesis: Genesis, chain_id: bytes, env: Envelope) -> Envelope:
    """Membership for the envelope's topic, then its signature."""
    topic = env.topic
    if topic == TOPIC_CONSENSUS:
        if genesis.validator_index(env.sender) is None:
            raise PeerError(ErrorCode.NODE_NOT_VALIDATOR, "sender is not a genesis validator")
    elif not any(m.ed25519_public == env.sender for m in genesis.validators + genesis.observers):
        raise PeerError(ErrorCode.NODE_NOT_VALIDATOR, "sender is not a genesis member")
    body = _signed_body(env.sender, env.topic, env.payloads)
    if not verify(env.sender, SIGN_KIND, chain_id, body, env.signature):
        raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, "envelope signature does not verify")
    return env


def stream_ack(frames: int) -> bytes:
    """The receiver's acknowledgement frame: how many frames of this stream it handled
    (8 bytes, big-endian)."""
    return frames.to_bytes(_ACK_BYTES, "big")


def read_stream_ack(data: bytes) -> int | None:
    """The count in an acknowledgement frame; None for anything else."""
    return int.from_bytes(data, "big") if len(data) == _ACK_BYTES else None


def _preamble_body(sender: bytes, topic: str, length: int, time_ms: int) -> bytes:
    return pack([sender, topic, length, time_ms])


def preamble(keys: KeyPair, chain_id: bytes, topic: str, length: int) -> str:
    """The ``X-Ballotchain-Peer`` header value announcing a body of ``length`` bytes."""
    t = int(time.time() * 1000)
    sig = keys.sign(PREAMBLE_KIND, chain_id, _preamble_body(keys.ed25519_public, topic, length, t))
    return f"{keys.ed25519_public.hex()}:{t}:{sig.hex()}"


class PreambleCheck:
    """Checks ``X-Ballotchain-Peer`` headers: member key, fresh, unseen, signed for this length."""

    def __init__(self, genesis: Genesis, chain_id: bytes) -> None:
        self.chain_id = chain_id
        self.validators = {v.ed25519_public for v in genesis.validators}
        self.members = self.validators | {m.ed25519_public for m in genesis.observers}
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def check(self, value: str, topic: str, length: int) -> bytes:
        """The sender's key, or ``PeerError``. Costs at most one signature check."""
        parts = value.split(":")
        try:
            if len(parts) != 3 or len(parts[1]) > 16:
                raise ValueError
            sender, t, sig = bytes.fromhex(parts[0]), int(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"malformed {PEER_HEADER} header") from None
        allowed = self.validators if topic == TOPIC_CONSENSUS else self.members
        if sender not in allowed:
            raise PeerError(ErrorCode.NODE_NOT_VALIDATOR, "the announced sender may not use this route")
        if abs(t - time.time() * 1000) > PREAMBLE_WINDOW_MS:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"{PEER_HEADER} header is stale")
        if sig in self._seen:
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"{PEER_HEADER} header was replayed")
        if len(sig) != 64 or not verify(
            sender, PREAMBLE_KIND, self.chain_id, _preamble_body(sender, topic, length, t), sig
        ):
            raise PeerError(ErrorCode.NODE_BAD_PEER_MESSAGE, f"{PEER_HEADER} signature does not verify")
        self._seen[sig] = None
        while len(self._seen) > PREAMBLE_SEEN_MAX:
            self._seen.popitem(last=False)
        return sender
