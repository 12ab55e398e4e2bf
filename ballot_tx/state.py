"""The deterministic state machine: ``apply_block(state, block, checker) -> state``.

State is a set of (key, value) records, each value a canonical encoding, so two
machines that applied the same blocks hold byte-identical records. The state
root is an LtHash over all records (``lthash.py``): applying a block touches
only the records its transactions change, and the root follows in O(changes).

Records (``eid`` = election id, 32 bytes; integers big-endian):

=========================  ==========================================================
``E`` eid                  ``ElectionStatus``: phase, joint key, counters
``M`` eid                  the ``Manifest`` (written once)
``C`` eid u8(i)            trustee i's ``TrusteeCommitment``
``S`` eid u8(i)            trustee i's ``TrusteeShares`` (its encrypted shares)
``Q`` eid u8(i) u8(j)      trustee j's complaint against dealer i
``A`` eid u8(i) u8(j)      dealer i's reveal of its share for j, answering it
``K`` eid u8(i) u8(j)      trustee j's acknowledgement of dealer i's shares (their digest)
``V`` eid voter_key        ``VoterRecord``: eligibility and ballots cast
``G`` eid card_tag         the voter key registered with that ID card tag
``B`` eid voter_key        the counted ballot's ciphertexts (re-voting elections only)
``P`` eid digest           the spoil tx hash: a spoiled ballot's ciphertexts
                           (``ciphertexts_digest``), which can never be cast
``T`` eid                  the running ``EncryptedTally`` of counted ballots
``D`` eid u8(i)            trustee i's ``DecryptionShare`` of the final tally
``R`` eid                  the published ``TallyResult``
``X`` tx_hash              u64(expires_ms): included transactions (replay guard)
``O``                      ``OpenElections``: ids of open elections (auto-close)
=========================  ==========================================================

Every transaction is checked (signature, expiry and uniqueness, authority,
phase, time window by *block* time, duplicates, eligibility, proofs) and either
applied or rejected with a ``TxError`` code; ``apply_block`` turns the first
rejection into a ``BlockError`` naming the transaction's index, and a block
with an invalid transaction is invalid as a whole.

Checks: every signature and proof goes through a ``checks.Checker``; the rules
below call it unconditionally and read as the specification. A node passes a
``checks.MemoChecker``, which remembers positive verdicts under keys naming
every input of the check (transaction hash *and* joint key, commitments, tally),
so a verdict reached at admission or on a proposal that was later abandoned is
reused only where the same check would pass again (``checks.py`` says why).

Snapshots: a ``State`` is an overlay of one block's writes on its parent,
ending in a ``Base`` (a dict in memory, or the node's LevelDB). Applying never
mutates a parent, so a validator can try several proposals for one height.
When the node commits a state into its base, that state and its descendants
stay valid; older snapshots report ``STATE_STALE`` if read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import lru_cache
from typing import Annotated, Any, Protocol, TypeVar

from ballot_tx.block import Block, check_tx_root, tx_hash
from ballot_tx.checks import Checker, ballot_key, signature_key
from ballot_tx.codec import U8, U32, U64, Bytes32, MaxLen, Wire, decode, digest, encode, hash_bytes
from ballot_tx.crypto import ballot as ballot_crypto
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as trustee_crypto
from ballot_tx.crypto.elgamal import Ciphertext
from ballot_tx.crypto.group import IDENTITY
from ballot_tx.eligibility import method
from ballot_tx.errors import (
    BallotchainError,
    BlockError,
    ErrorCode,
    StateError,
    TxError,
)
from ballot_tx.lthash import LtHash
from ballot_tx.manifest import (
    Manifest,
    contest_width,
    election_id,
    validate_manifest,
    voting_open_at,
    voting_over,
)
from ballot_tx.tx import (
    MAX_TX_LIFETIME_MS,
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
    TxBody,
    check_signature,
    decode_tx,
    shares_digest,
)

W = TypeVar("W", bound=Wire)


class Phase(IntEnum):
    CEREMONY = 0  # created: trustees run the key ceremony, registrar registers voters
    OPEN = 1  # ballots accepted inside [start_ms, end_ms)
    CLOSED = 2  # no more ballots; trustees post decryption shares
    DECIDED = 3  # the result is published and verified


PHASE_NAMES = {p: p.name.lower() for p in Phase}


@dataclass(frozen=True)
class ElectionStatus(Wire):
    phase: U8
    joint_key: Bytes32 | None
    qualified: Annotated[tuple[U8, ...], MaxLen(255)]  # GJKR qualified trustees, fixed at open
    code_salt: Bytes32 | None
    registered: U64
    ballots_cast: U64  # accepted cast transactions, re-votes included
    voters_voted: U64  # distinct voters with a counted ballot
    spoiled: U64
    closed_ms: U64 | None
    cancelled: U64 = 0  # voters whose internet vote a paper vote cancelled


@dataclass(frozen=True)
class VoterRecord(Wire):
    single_use: bool
    card_tag: Bytes32 | None
    ballots: U32
    counted: Bytes32 | None  # hash of the transaction whose ballot counts
    spoils: U32 = 0
    counted_ciphertexts: Bytes32 | None = None  # ``ciphertexts_digest`` of the counted ballot
    cancelled: bool = False  # voted on paper: no internet ballot counts or may be cast


@dataclass(frozen=True)
class OpenElections(Wire):
    ids: Annotated[tuple[Bytes32, ...], MaxLen(10_000)]


def _k(prefix: bytes, *parts: bytes) -> bytes:
    return prefix + b"".join(parts)


def _i(i: int) -> bytes:
    return bytes([i])


KEY_OPEN = b"O"


# --- snapshots -----------------------------------------------------------------------


class Base(Protocol):
    """Committed records under all overlays; ``height`` is the last block committed into it."""

    @property
    def height(self) -> int: ...

    def get(self, key: bytes) -> bytes | None: ...


class MemoryBase:
    """An in-memory base (tests, audit replay)."""

    def __init__(self, records: dict[bytes, bytes] | None = None, height: int = 0) -> None:
        self.records: dict[bytes, bytes] = {} if records is None else records
        self.height = height

    def get(self, key: bytes) -> bytes | None:
        return self.records.get(key)

    def commit(self, state: State) -> State:
        """Fold ``state``'s overlays into this base; returns the same state without overlays."""
        chain: list[State] = []
        s: State | None = state
        while s is not None and s.height > self.height:
            chain.append(s)
            s = s.parent
        for layer in reversed(chain):
            for k, v in layer.writes.items():
                if v is None:
                    self.records.pop(k, None)
                else:
                    self.records[k] = v
        self.height = state.height
        return state.rebase(self)


class _Params(Protocol):
    @property
    def max_block_txs(self) -> int: ...
    @property
    def max_block_bytes(self) -> int: ...


class _Member(Protocol):
    @property
    def ed25519_public(self) -> bytes: ...


class GenesisView(Protocol):
    """What the state machine reads from ``genesis.document.Genesis`` (ballot_tx does not
    import the genesis package, which builds on it)."""

    @property
    def genesis_time_ms(self) -> int: ...
    @property
    def params(self) -> _Params: ...
    @property
    def validators(self) -> tuple[_Member, ...]: ...

    def authority_keys(self, role: str) -> tuple[bytes, ...]: ...


@dataclass(frozen=True)
class Chain:
    """What apply needs from genesis, computed once."""

    genesis: GenesisView
    chain_id: bytes
    admins: frozenset[bytes]
    registrars: frozenset[bytes]
    validators: frozenset[bytes]

    @staticmethod
    def of(genesis: GenesisView) -> Chain:
        assert isinstance(genesis, Wire) and type(genesis).KIND == "genesis"
        return Chain(
            genesis,
            digest(genesis),  # the chain id: genesis.document.genesis_hash
            frozenset(genesis.authority_keys("admin")),
            frozenset(genesis.authority_keys("registrar")),
            frozenset(v.ed25519_public for v in genesis.validators),
        )


class State:
    """An immutable snapshot after ``height`` blocks (read with ``get``)."""

    __slots__ = ("chain", "base", "parent", "writes", "lthash", "height", "block_hash", "time_ms")

    def __init__(
        self,
        chain: Chain,
        base: Base,
        lthash: LtHash,
        height: int,
        block_hash: bytes,
        time_ms: int,
        parent: State | None = None,
        writes: dict[bytes, bytes | None] | None = None,
    ) -> None:
        self.chain = chain
        self.base = base
        self.parent = parent
        self.writes: dict[bytes, bytes | None] = {} if writes is None else writes
        self.lthash = lthash
        self.height = height
        self.block_hash = block_hash
        self.time_ms = time_ms

    @staticmethod
    def initial(genesis: GenesisView, base: Base | None = None) -> State:
        """The empty state before block 1."""
        chain = Chain.of(genesis)
        return State(chain, base or MemoryBase(), LtHash(), 0, chain.chain_id, genesis.genesis_time_ms)

    @property
    def root(self) -> bytes:
        return self.lthash.root()

    def get(self, key: bytes) -> bytes | None:
        if self.height < self.base.height:
            raise StateError(
                ErrorCode.STATE_STALE,
                f"state at height {self.height} read after height {self.base.height} was committed",
            )
        s: State | None = self
        while s is not None and s.height > self.base.height:
            if key in s.writes:
                return s.writes[key]
            s = s.parent
        return self.base.get(key)

    def rebase(self, base: Base) -> State:
        """This snapshot with no overlays over a base that already holds its writes."""
        return State(self.chain, base, self.lthash, self.height, self.block_hash, self.time_ms)

    # typed reads, for the API and the audit
    def election(self, eid: bytes) -> ElectionStatus | None:
        return _decode_opt(ElectionStatus, self.get(_k(b"E", eid)))

    def manifest(self, eid: bytes) -> Manifest | None:
        return _decode_opt(Manifest, self.get(_k(b"M", eid)))

    def voter(self, eid: bytes, voter_key: bytes) -> VoterRecord | None:
        return _decode_opt(VoterRecord, self.get(_k(b"V", eid, voter_key)))

    def tally(self, eid: bytes) -> tally_crypto.EncryptedTally | None:
        return _decode_opt(tally_crypto.EncryptedTally, self.get(_k(b"T", eid)))

    def result(self, eid: bytes) -> tally_crypto.TallyResult | None:
        return _decode_opt(tally_crypto.TallyResult, self.get(_k(b"R", eid)))

    def decryption_shares(self, eid: bytes, n: int) -> list[tally_crypto.DecryptionShare]:
        out = []
        for i in range(1, n + 1):
            s = _decode_opt(tally_crypto.DecryptionShare, self.get(_k(b"D", eid, _i(i))))
            if s is not None:
                out.append(s)
        return out

    def qualified_commitments(self, eid: bytes) -> list[trustee_crypto.TrusteeCommitment]:
        """The commitments of the election's qualified trustees (after open)."""
        st = self.election(eid)
        return [] if st is None else _commitments(self.get, eid, st.qualified)

    def seen(self, h: bytes) -> bool:
        return self.get(_k(b"X", h)) is not None


def _decode_opt(cls: type[W], data: bytes | None) -> W | None:
    return None if data is None else decode(cls, data)


def iter_layers(state: State) -> Iterator[State]:
    s: State | None = state
    while s is not None and s.height > state.base.height:
        yield s
        s = s.parent


# --- one block's execution ---------------------------------------------------------


def _tx_error(code: ErrorCode, msg: str) -> TxError:
    return TxError(code, msg)


class _Exec:
    """Scratch space for one block (or one mempool check): reads through to the state,
    keeps decoded objects it touched, and writes canonical records at the end."""

    def __init__(self, state: State, time_ms: int, checker: Checker | None) -> None:
        self.state = state
        self.chain = state.chain
        self.t = time_ms
        self.checker = Checker() if checker is None else checker
        self.raw: dict[bytes, bytes | None] = {}
        self.objs: dict[bytes, Wire | None] = {}
        self.dirty: set[bytes] = set()
        # undo log, so a proposer can drop a failing transaction and go on
        self.journal: list[tuple[bool, bytes, bool, Any, bool]] = []
        self.manifests: dict[bytes, Manifest] = {}
        self.current = b""  # hash of the transaction being applied
        # False for a one-transaction admission check: whether a ballot is valid does not
        # depend on the running tally, and nothing after it reads the tally, so the point
        # additions (most of the loop's cost per demo ballot) are left to the block.
        self.count = True

    # records
    def get(self, key: bytes) -> bytes | None:
        if key in self.raw:
            return self.raw[key]
        return self.state.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.journal.append((False, key, key in self.raw, self.raw.get(key), False))
        self.raw[key] = value

    def obj(self, cls: type[W], key: bytes) -> W | None:
        if key in self.objs:
            return self.objs[key]  # type: ignore[return-value]
        v = _decode_opt(cls, self.get(key))
        self.objs[key] = v
        return v

    def set_obj(self, key: bytes, value: Wire) -> None:
        self.journal.append((True, key, key in self.objs, self.objs.get(key), key in self.dirty))
        self.objs[key] = value
        self.dirty.add(key)

    def rollback(self, mark: int) -> None:
        """Undo every write after ``mark`` (a length of the journal)."""
        while len(self.journal) > mark:
            is_obj, key, present, old, was_dirty = self.journal.pop()
            table: dict[bytes, Any] = self.objs if is_obj else self.raw
            if present:
                table[key] = old
            else:
                table.pop(key, None)
            if is_obj and not was_dirty:
                self.dirty.discard(key)

    def writes(self) -> dict[bytes, bytes | None]:
        for key in self.dirty:
            v = self.objs[key]
            self.raw[key] = None if v is None else encode(v)
        self.dirty.clear()
        return self.raw

    # typed helpers
    def manifest(self, eid: bytes) -> Manifest:
        m = self.manifests.get(eid)
        if m is None:
            data = self.get(_k(b"M", eid))
            if data is None:
                raise _tx_error(ErrorCode.TX_UNKNOWN_ELECTION, f"no election {eid.hex()[:16]}")
            m = _decode_manifest(data)
            self.manifests[eid] = m
        return m

    def status(self, eid: bytes) -> ElectionStatus:
        st = self.obj(ElectionStatus, _k(b"E", eid))
        if st is None:
            raise _tx_error(ErrorCode.TX_UNKNOWN_ELECTION, f"no election {eid.hex()[:16]}")
        return st

    def set_status(self, eid: bytes, st: ElectionStatus) -> None:
        self.set_obj(_k(b"E", eid), st)

    def open_ids(self) -> tuple[bytes, ...]:
        o = self.obj(OpenElections, KEY_OPEN)
        return () if o is None else o.ids

    def set_open_ids(self, ids: tuple[bytes, ...]) -> None:
        self.set_obj(KEY_OPEN, OpenElections(tuple(sorted(set(ids)))))


@lru_cache(maxsize=256)
def _decode_manifest(data: bytes) -> Manifest:
    """Manifests are immutable (written once, named by their hash): decode each once per
    process, not once per admission check."""
    return decode(Manifest, data)


def _require_phase(st: ElectionStatus, *phases: Phase) -> None:
    if st.phase not in phases:
        want = " or ".join(PHASE_NAMES[p] for p in phases)
        raise _tx_error(
            ErrorCode.TX_WRONG_PHASE,
            f"the election is {PHASE_NAMES[Phase(st.phase)]}, this needs it {want}",
        )


def _trustee_index(m: Manifest, signer: bytes) -> int:
    """1-based trustee index of the signer, or TX_NOT_TRUSTEE."""
    for i, t in enumerate(m.trustees, start=1):
        if t.ed25519_public == signer:
            return i
    raise _tx_error(ErrorCode.TX_NOT_TRUSTEE, "the signer is not a trustee of this election")


def _require(keys: frozenset[bytes], signer: bytes, role: str) -> None:
    if signer not in keys:
        raise _tx_error(ErrorCode.TX_UNAUTHORIZED, f"only the genesis {role} may sign this transaction")


def _crypto(code: ErrorCode, fn: Callable[[], Any]) -> Any:
    """Run a crypto check, turning its failure into a transaction error with ``code``."""
    try:
        return fn()
    except BallotchainError as e:
        raise _tx_error(code, e.message) from None


# --- transaction handlers ----------------------------------------------------------


def _create(x: _Exec, tx: Tx, b: CreateElection) -> None:
    _require(x.chain.admins, tx.signer, "admin")
    m = b.manifest
    _crypto(ErrorCode.TX_BAD_MANIFEST, lambda: validate_manifest(m))
    if voting_over(m, x.t):
        raise _tx_error(ErrorCode.TX_BAD_MANIFEST, "the manifest's voting window has already ended")
    eid = election_id(m)
    if x.get(_k(b"M", eid)) is not None:
        raise _tx_error(ErrorCode.TX_ELECTION_EXISTS, f"election {eid.hex()[:16]} already exists")
    x.put(_k(b"M", eid), encode(m))
    x.set_status(eid, ElectionStatus(int(Phase.CEREMONY), None, (), None, 0, 0, 0, 0, None))
    x.set_obj(_k(b"T", eid), tally_crypto.empty_tally(m))


def _ceremony_step(x: _Exec, tx: Tx, eid: bytes) -> tuple[Manifest, ElectionStatus, int]:
    m = x.manifest(eid)
    i = _trustee_index(m, tx.signer)
    st = x.status(eid)
    _require_phase(st, Phase.CEREMONY)
    return m, st, i


def _trustee_commit(x: _Exec, tx: Tx, b: TrusteeCommit) -> None:
    m, _, i = _ceremony_step(x, tx, b.election_id)
    key = _k(b"C", b.election_id, _i(i))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already posted its commitment")
    if b.commitment.index != i:
        raise _tx_error(ErrorCode.TX_BAD_COMMITMENT, f"commitment names trustee {b.commitment.index}, signer is {i}")
    _crypto(ErrorCode.TX_BAD_COMMITMENT, lambda: x.checker.commitment(x.current, m, b.commitment))
    x.put(key, encode(b.commitment))


def _trustee_shares(x: _Exec, tx: Tx, b: TrusteeShares) -> None:
    m, _, i = _ceremony_step(x, tx, b.election_id)
    key = _k(b"S", b.election_id, _i(i))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already posted its shares")
    if x.get(_k(b"C", b.election_id, _i(i))) is None:
        raise _tx_error(ErrorCode.TX_CEREMONY_INCOMPLETE, f"trustee {i} must post its commitment first")
    n = len(m.trustees)
    want = [j for j in range(1, n + 1) if j != i]
    got = [(s.election_id, s.sender, s.recipient) for s in b.shares]
    if got != [(b.election_id, i, j) for j in want]:
        raise _tx_error(
            ErrorCode.TX_BAD_SHARES,
            f"trustee {i} must post one share for each other trustee, in order ({len(want)})",
        )
    x.put(key, encode(b))


def _trustee_complaint(x: _Exec, tx: Tx, b: TrusteeComplaint) -> None:
    m, _, i = _ceremony_step(x, tx, b.election_id)
    c = b.complaint
    if c.accuser != i or c.election_id != b.election_id:
        raise _tx_error(ErrorCode.TX_BAD_COMPLAINT, f"the complaint is not trustee {i}'s in this election")
    j = c.dealer
    if not 1 <= j <= len(m.trustees) or j == i:
        raise _tx_error(ErrorCode.TX_BAD_COMPLAINT, f"trustee {i} cannot complain about trustee {j}")
    key = _k(b"Q", b.election_id, _i(j), _i(i))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already complained about {j}")
    if x.get(_k(b"S", b.election_id, _i(j))) is None:
        raise _tx_error(ErrorCode.TX_BAD_COMPLAINT, f"trustee {j} has posted no shares to complain about")
    if x.get(_k(b"K", b.election_id, _i(j), _i(i))) is not None:
        raise _tx_error(ErrorCode.TX_BAD_COMPLAINT, f"trustee {i} already acknowledged trustee {j}'s shares")
    x.put(key, encode(c))


def _trustee_acknowledge(x: _Exec, tx: Tx, b: TrusteeAcknowledge) -> None:
    """Ceremony step 3: recipient ``j`` says each named dealer's shares open and match its
    commitment. The ack names the exact shares it checked (their digest), so it cannot
    be read as vouching for anything else."""
    eid = b.election_id
    _, _, j = _ceremony_step(x, tx, eid)
    if not b.acks:
        raise _tx_error(ErrorCode.TX_BAD_ACKNOWLEDGEMENT, "the acknowledgement names no dealer")
    last = 0
    for a in b.acks:
        i = a.dealer
        if i <= last or i == j:
            raise _tx_error(
                ErrorCode.TX_BAD_ACKNOWLEDGEMENT,
                f"dealers must be other trustees, in increasing order; got {i} after {last}",
            )
        last = i
        posted = x.get(_k(b"S", eid, _i(i)))
        if posted is None:
            raise _tx_error(ErrorCode.TX_BAD_ACKNOWLEDGEMENT, f"trustee {i} has posted no shares")
        if shares_digest(decode(TrusteeShares, posted)) != a.shares:
            raise _tx_error(
                ErrorCode.TX_BAD_ACKNOWLEDGEMENT, f"the acknowledgement is not for trustee {i}'s posted shares"
            )
        if x.get(_k(b"Q", eid, _i(i), _i(j))) is not None:
            raise _tx_error(ErrorCode.TX_BAD_ACKNOWLEDGEMENT, f"trustee {j} complained about trustee {i}")
        key = _k(b"K", eid, _i(i), _i(j))
        if x.get(key) is not None:
            raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {j} already acknowledged trustee {i}")
        x.put(key, a.shares)


def _trustee_reveal(x: _Exec, tx: Tx, b: TrusteeReveal) -> None:
    m, _, i = _ceremony_step(x, tx, b.election_id)
    r = b.reveal
    if r.dealer != i:
        raise _tx_error(ErrorCode.TX_BAD_REVEAL, f"the reveal is trustee {r.dealer}'s, the signer is {i}")
    if not 1 <= r.recipient <= len(m.trustees):
        raise _tx_error(ErrorCode.TX_BAD_REVEAL, f"no trustee {r.recipient}")
    if x.get(_k(b"Q", b.election_id, _i(i), _i(r.recipient))) is None:
        raise _tx_error(ErrorCode.TX_BAD_REVEAL, f"trustee {r.recipient} has not complained about trustee {i}")
    key = _k(b"A", b.election_id, _i(i), _i(r.recipient))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_CEREMONY_DUPLICATE, f"trustee {i} already answered this complaint")
    com = _decode_opt(trustee_crypto.TrusteeCommitment, x.get(_k(b"C", b.election_id, _i(i))))
    assert com is not None, "shares (and so complaints) need a commitment first"
    _crypto(ErrorCode.TX_BAD_REVEAL, lambda: x.checker.reveal(x.current, m, com, r))
    x.put(key, encode(r))


def qualified_trustees(get: Callable[[bytes], bytes | None], eid: bytes, m: Manifest) -> list[int]:
    """GJKR's qualified set: trustees that posted a (verified) commitment and their shares,
    and answered every complaint against them with a valid reveal."""
    n = len(m.trustees)
    out = []
    for i in range(1, n + 1):
        if get(_k(b"C", eid, _i(i))) is None or (n > 1 and get(_k(b"S", eid, _i(i))) is None):
            continue
        if any(
            get(_k(b"Q", eid, _i(i), _i(j))) is not None and get(_k(b"A", eid, _i(i), _i(j))) is None
            for j in range(1, n + 1)
        ):
            continue
        out.append(i)
    return out


def unacknowledged_pairs(
    get: Callable[[bytes], bytes | None], eid: bytes, q: list[int] | tuple[int, ...]
) -> list[tuple[int, int]]:
    """The (dealer, recipient) pairs of ``q`` where the recipient has not confirmed holding
    a valid share: neither acknowledged it nor had its complaint answered by a reveal (a
    complaint left unanswered already keeps the dealer out of ``q``)."""
    return [
        (i, j)
        for i in q
        for j in q
        if i != j
        and get(_k(b"K", eid, _i(i), _i(j))) is None
        and get(_k(b"A", eid, _i(i), _i(j))) is None
    ]


def _commitments(
    get: Callable[[bytes], bytes | None], eid: bytes, indices: tuple[int, ...] | list[int]
) -> list[trustee_crypto.TrusteeCommitment]:
    out = []
    for i in indices:
        c = _decode_opt(trustee_crypto.TrusteeCommitment, get(_k(b"C", eid, _i(i))))
        assert c is not None
        out.append(c)
    return out


def _open(x: _Exec, tx: Tx, b: OpenElection) -> None:
    _require(x.chain.admins, tx.signer, "admin")
    eid = b.election_id
    m = x.manifest(eid)
    st = x.status(eid)
    _require_phase(st, Phase.CEREMONY)
    if voting_over(m, x.t):
        raise _tx_error(ErrorCode.TX_OUTSIDE_WINDOW, "the voting window has already ended")
    if list(b.exclude) != sorted(set(b.exclude)) or not all(1 <= i <= len(m.trustees) for i in b.exclude):
        raise _tx_error(ErrorCode.TX_BAD_EXCLUSION, "exclude must list trustee indices, each once, in order")
    q = [i for i in qualified_trustees(x.get, eid, m) if i not in b.exclude]
    if len(q) < m.threshold:
        raise _tx_error(
            ErrorCode.TX_CEREMONY_INCOMPLETE,
            f"{len(q)} trustees have completed the ceremony, the threshold is {m.threshold}",
        )
    missing = unacknowledged_pairs(x.get, eid, q)
    if missing:
        i, j = missing[0]
        raise _tx_error(
            ErrorCode.TX_CEREMONY_UNACKNOWLEDGED,
            f"trustee {j} has not acknowledged trustee {i}'s shares ({len(missing)} pair(s) open)",
        )
    key = trustee_crypto.joint_key(_commitments(x.get, eid, q))
    if key == IDENTITY:
        raise _tx_error(ErrorCode.TX_JOINT_KEY_IDENTITY, "the joint key would be the identity: nothing is secret")
    x.set_status(eid, replace(st, phase=int(Phase.OPEN), joint_key=key, qualified=tuple(q)))
    x.set_open_ids((*x.open_ids(), eid))


def _register(x: _Exec, tx: Tx, b: Any) -> None:
    _require(x.chain.registrars, tx.signer, "registrar")
    eid = b.election_id
    m = x.manifest(eid)
    st = x.status(eid)
    elig = method(m.eligibility)
    if type(b) is not elig.registration:
        raise _tx_error(
            ErrorCode.TX_WRONG_ELIGIBILITY,
            f"election uses {m.eligibility!r}; this registration is for another method",
        )
    _require_phase(st, Phase.CEREMONY, Phase.OPEN)
    plan = elig.plan(b)
    salt = st.code_salt
    if plan.code_salt is not None:
        if salt is None:
            salt = plan.code_salt
        elif salt != plan.code_salt:
            raise _tx_error(ErrorCode.TX_CODE_SALT_MISMATCH, "all code batches of an election use one salt")
    for v in plan.voters:
        vkey = _k(b"V", eid, v.voter_key)
        if x.get(vkey) is not None:
            raise _tx_error(ErrorCode.TX_VOTER_REGISTERED, f"voter key {v.voter_key.hex()[:16]} is already registered")
        if v.card_tag is not None:
            tkey = _k(b"G", eid, v.card_tag)
            if x.get(tkey) is not None:
                raise _tx_error(ErrorCode.TX_CARD_TAG_USED, "the holder of this ID card already registered a voter")
            x.put(tkey, v.voter_key)
        x.put(vkey, encode(VoterRecord(v.single_use, v.card_tag, 0, None)))
    x.set_status(eid, replace(st, code_salt=salt, registered=st.registered + len(plan.voters)))


def _voting(x: _Exec, tx: Tx, eid: bytes) -> tuple[Manifest, ElectionStatus, VoterRecord]:
    m = x.manifest(eid)
    st = x.status(eid)
    _require_phase(st, Phase.OPEN)
    if not voting_open_at(m, x.t):
        raise _tx_error(ErrorCode.TX_OUTSIDE_WINDOW, "the block time is outside the voting window")
    data = x.get(_k(b"V", eid, tx.signer))
    if data is None:
        raise _tx_error(ErrorCode.TX_NOT_ELIGIBLE, "the signer is not a registered voter of this election")
    voter = decode(VoterRecord, data)
    if voter.cancelled:
        raise _tx_error(ErrorCode.TX_VOTE_CANCELLED, "this voter voted on paper; the internet vote is cancelled")
    return m, st, voter


def _cast(x: _Exec, tx: Tx, b: CastBallot) -> None:
    eid = b.election_id
    m, st, voter = _voting(x, tx, eid)
    if voter.ballots:
        if voter.single_use:
            raise _tx_error(ErrorCode.TX_CODE_USED, "this voting code was already used")
        if not m.revoting:
            raise _tx_error(ErrorCode.TX_REVOTE_NOT_ALLOWED, "this voter already voted; re-voting is off")
    if voter.ballots >= m.max_ballots_per_voter:
        raise _tx_error(
            ErrorCode.TX_TOO_MANY_BALLOTS, f"this voter already cast {voter.ballots} ballots, the most allowed"
        )
    assert st.joint_key is not None
    key = st.joint_key
    if b.ballot.election_id != eid:
        raise _tx_error(ErrorCode.TX_BAD_BALLOT, "the ballot is for another election")
    cts = ciphertexts_digest(b.ballot)
    if x.get(_k(b"P", eid, cts)) is not None:
        raise _tx_error(ErrorCode.TX_BALLOT_SPOILED, "these ciphertexts were spoiled (opened in public) before")
    _crypto(ErrorCode.TX_BAD_BALLOT, lambda: x.checker.ballot(x.current, m, key, tx.signer, b.ballot))
    bkey = _k(b"B", eid, tx.signer)
    if x.count:
        tkey = _k(b"T", eid)
        tally = x.obj(tally_crypto.EncryptedTally, tkey)
        assert tally is not None
        tally = tally_crypto.add_ballot(tally, b.ballot)
        if voter.counted is not None:
            prev = x.get(bkey)
            assert prev is not None, "a re-voting election keeps every counted ballot"
            tally = tally_crypto.subtract_ballot(tally, _ballot_from_ciphertexts(m, eid, prev))
        x.set_obj(tkey, tally)
    if m.revoting and not voter.single_use:
        x.put(bkey, _ciphertext_bytes(b.ballot))
    x.put(
        _k(b"V", eid, tx.signer),
        encode(replace(voter, ballots=voter.ballots + 1, counted=x.current, counted_ciphertexts=cts)),
    )
    x.set_status(
        eid,
        replace(
            st,
            ballots_cast=st.ballots_cast + 1,
            voters_voted=st.voters_voted + (voter.counted is None),
        ),
    )


def ciphertexts_digest(b: ballot_crypto.EncryptedBallot) -> bytes:
    """What ties a spoiled ballot to a cast one: its ciphertexts only, so new proofs (for
    the same or another voter key: whoever knows the revealed randomness can make them)
    do not make them new. Bit 255 of each point encoding is cleared first: libsodium
    1.0.18 ignores it, so a set bit would otherwise be a second spelling of the same
    ciphertext (issue 11, attack 4)."""
    parts = bytearray()
    for c in b.contests:
        for ct in c.ciphertexts:
            for p in (ct.alpha, ct.beta):
                parts += p[:31] + bytes([p[31] & 0x7F])
    return hash_bytes("state/ballot-ciphertexts", bytes(parts))


def _ciphertext_bytes(b: ballot_crypto.EncryptedBallot) -> bytes:
    """A counted ballot as kept for re-voting: its ciphertexts only, alpha||beta, in
    ballot order (the proofs were checked when it was cast and are in its block)."""
    return b"".join(ct.alpha + ct.beta for c in b.contests for ct in c.ciphertexts)


def _ballot_from_ciphertexts(m: Manifest, eid: bytes, data: bytes) -> ballot_crypto.EncryptedBallot:
    contests = []
    pos = 0
    for c in m.contests:
        cts = []
        for _ in range(contest_width(c)):
            cts.append(Ciphertext(data[pos : pos + 32], data[pos + 32 : pos + 64]))
            pos += 64
        contests.append(ballot_crypto.EncryptedContest(tuple(cts), (), ()))
    return ballot_crypto.EncryptedBallot(eid, tuple(contests))


def _spoil(x: _Exec, tx: Tx, b: SpoilBallot) -> None:
    """A Benaloh challenge: the ballot is opened in public, so it must never count, and the
    ballot that does count must never be opened (that would be a receipt for a coercer)."""
    eid = b.election_id
    m, st, voter = _voting(x, tx, eid)
    if voter.spoils >= m.max_spoils_per_voter:
        raise _tx_error(
            ErrorCode.TX_TOO_MANY_SPOILS, f"this voter already spoiled {voter.spoils} ballots, the most allowed"
        )
    cts = ciphertexts_digest(b.ballot)
    if voter.counted_ciphertexts == cts:
        raise _tx_error(ErrorCode.TX_SPOIL_COUNTED, "this is the voter's counted ballot; it cannot be opened")
    assert st.joint_key is not None
    key = st.joint_key
    _crypto(
        ErrorCode.TX_BAD_SPOIL,
        lambda: x.checker.spoiled(x.current, m, key, tx.signer, b.ballot, b.secrets),
    )
    x.put(_k(b"P", eid, cts), x.current)
    x.put(_k(b"V", eid, tx.signer), encode(replace(voter, spoils=voter.spoils + 1)))
    x.set_status(eid, replace(st, spoiled=st.spoiled + 1))


def _close(x: _Exec, tx: Tx, b: CloseElection) -> None:
    _require(x.chain.admins, tx.signer, "admin")
    st = x.status(b.election_id)
    _require_phase(st, Phase.OPEN)
    _close_now(x, b.election_id, st)


def _close_now(x: _Exec, eid: bytes, st: ElectionStatus) -> None:
    x.set_status(eid, replace(st, phase=int(Phase.CLOSED), closed_ms=x.t))
    x.set_open_ids(tuple(i for i in x.open_ids() if i != eid))


def _decryption_share(x: _Exec, tx: Tx, b: PostDecryptionShare) -> None:
    eid = b.election_id
    m = x.manifest(eid)
    i = _trustee_index(m, tx.signer)
    st = x.status(eid)
    _require_phase(st, Phase.CLOSED)
    if b.share.trustee != i:
        raise _tx_error(ErrorCode.TX_BAD_DECRYPTION_SHARE, f"share names trustee {b.share.trustee}, signer is {i}")
    key = _k(b"D", eid, _i(i))
    if x.get(key) is not None:
        raise _tx_error(ErrorCode.TX_SHARE_DUPLICATE, f"trustee {i} already posted its decryption share")
    tally = x.obj(tally_crypto.EncryptedTally, _k(b"T", eid))
    assert tally is not None
    coms = _commitments(x.get, eid, st.qualified)
    _crypto(
        ErrorCode.TX_BAD_DECRYPTION_SHARE,
        lambda: x.checker.decryption_share(x.current, m, coms, tally, b.share),
    )
    x.put(key, encode(b.share))


def _publish(x: _Exec, tx: Tx, b: PublishResult) -> None:
    eid = b.election_id
    m = x.manifest(eid)
    if tx.signer not in x.chain.admins:
        _trustee_index(m, tx.signer)
    st = x.status(eid)
    _require_phase(st, Phase.CLOSED)
    shares = []
    for i in range(1, len(m.trustees) + 1):
        s = _decode_opt(tally_crypto.DecryptionShare, x.get(_k(b"D", eid, _i(i))))
        if s is not None:
            shares.append(s)
    tally = x.obj(tally_crypto.EncryptedTally, _k(b"T", eid))
    assert tally is not None
    coms = _commitments(x.get, eid, st.qualified)
    _crypto(
        ErrorCode.TX_BAD_RESULT,
        lambda: x.checker.result(x.current, m, coms, tally, shares, b.result),
    )
    x.put(_k(b"R", eid), encode(b.result))
    x.set_status(eid, replace(st, phase=int(Phase.DECIDED)))


def _cancel_internet_vote(x: _Exec, tx: Tx, b: CancelInternetVote) -> None:
    """A paper vote overrides the internet vote: each voter's counted ballot leaves the
    tally (its ciphertexts are kept in ``B`` by re-voting elections) and the key may cast
    no more. Registrar only (it alone maps persons to keys), before the close."""
    _require(x.chain.registrars, tx.signer, "registrar")
    eid = b.election_id
    m = x.manifest(eid)
    st = x.status(eid)
    _require_phase(st, Phase.CEREMONY, Phase.OPEN)
    if not m.revoting:
        raise _tx_error(ErrorCode.TX_CANCEL_NOT_ALLOWED,
                        "only re-voting elections keep the counted ballots a cancellation removes")
    if not b.voter_keys:
        raise _tx_error(ErrorCode.TX_TOO_MANY_ENTRIES, "a cancellation must name at least one voter")
    if len(set(b.voter_keys)) != len(b.voter_keys):
        raise _tx_error(ErrorCode.TX_MALFORMED, "a cancellation names a voter twice")
    tkey = _k(b"T", eid)
    tally = x.obj(tally_crypto.EncryptedTally, tkey)
    assert tally is not None
    uncounted = 0
    for k in b.voter_keys:
        data = x.get(_k(b"V", eid, k))
        if data is None:
            raise _tx_error(ErrorCode.TX_NOT_ELIGIBLE, f"voter key {k.hex()[:16]} is not registered in this election")
        voter = decode(VoterRecord, data)
        if voter.single_use:
            raise _tx_error(ErrorCode.TX_CANCEL_NOT_ALLOWED, "a one-time code belongs to no known person")
        if voter.cancelled:
            raise _tx_error(ErrorCode.TX_VOTE_CANCELLED, f"voter key {k.hex()[:16]} is already cancelled")
        if voter.counted is not None:
            prev = x.get(_k(b"B", eid, k))
            assert prev is not None, "a re-voting election keeps every counted ballot"
            tally = tally_crypto.subtract_ballot(tally, _ballot_from_ciphertexts(m, eid, prev))
            x.put(_k(b"B", eid, k), None)
            uncounted += 1
        x.put(_k(b"V", eid, k), encode(replace(voter, counted=None, counted_ciphertexts=None, cancelled=True)))
    x.set_obj(tkey, tally)
    x.set_status(eid, replace(st, voters_voted=st.voters_voted - uncounted,
                              cancelled=st.cancelled + len(b.voter_keys)))


_HANDLERS: dict[type[Wire], Callable[[_Exec, Tx, Any], None]] = {
    CreateElection: _create,
    TrusteeCommit: _trustee_commit,
    TrusteeShares: _trustee_shares,
    TrusteeComplaint: _trustee_complaint,
    TrusteeReveal: _trustee_reveal,
    TrusteeAcknowledge: _trustee_acknowledge,
    OpenElection: _open,
    CastBallot: _cast,
    SpoilBallot: _spoil,
    CloseElection: _close,
    PostDecryptionShare: _decryption_share,
    PublishResult: _publish,
    CancelInternetVote: _cancel_internet_vote,
}


def _handler(body: TxBody) -> Callable[[_Exec, Tx, Any], None]:
    h = _HANDLERS.get(type(body))
    return h if h is not None else _register


def _apply_tx(x: _Exec, tx: Tx, h: bytes, raw: bytes | None = None) -> None:
    if tx.expires_ms < x.t:
        raise _tx_error(ErrorCode.TX_EXPIRED, f"{tx.kind} expired at {tx.expires_ms} before block time {x.t}")
    if tx.expires_ms > x.t + MAX_TX_LIFETIME_MS:
        raise _tx_error(
            ErrorCode.TX_EXPIRY_TOO_FAR,
            f"{tx.kind} expires more than {MAX_TX_LIFETIME_MS // 3_600_000} h after block time",
        )
    seen_key = _k(b"X", h)
    if x.get(seen_key) is not None:
        raise _tx_error(ErrorCode.TX_DUPLICATE, f"{tx.kind} transaction {h.hex()[:16]} was already included")
    x.current = h
    x.checker.signature(h, tx, x.chain.chain_id, raw)
    _handler(tx.body)(x, tx, tx.body)
    x.put(seen_key, tx.expires_ms.to_bytes(8, "big"))


def _auto_close(x: _Exec) -> None:
    for eid in x.open_ids():
        if voting_over(x.manifest(eid), x.t):
            _close_now(x, eid, x.status(eid))


def _next_time_ok(state: State, time_ms: int) -> bool:
    if state.height == 0:
        return time_ms >= state.time_ms
    return time_ms > state.time_ms


def check_header(state: State, block: Block) -> None:
    """The header rules that need no transaction execution."""
    h = block.header
    g = state.chain.genesis
    if h.height != state.height + 1:
        raise BlockError(ErrorCode.BLOCK_BAD_HEIGHT, f"block height {h.height} does not follow {state.height}")
    if h.prev_hash != state.block_hash:
        raise BlockError(ErrorCode.BLOCK_BAD_PREV_HASH, f"block {h.height} does not link to block {state.height}")
    if not _next_time_ok(state, h.time_ms):
        raise BlockError(ErrorCode.BLOCK_BAD_TIME, f"block {h.height} time {h.time_ms} is not after {state.time_ms}")
    if h.proposer not in state.chain.validators:
        raise BlockError(ErrorCode.BLOCK_BAD_PROPOSER, f"block {h.height} proposer is not a genesis validator")
    if len(block.txs) > g.params.max_block_txs:
        raise BlockError(
            ErrorCode.BLOCK_TOO_MANY_TXS,
            f"block {h.height} has {len(block.txs)} transactions > {g.params.max_block_txs}",
        )
    size = block_bytes(block.txs)
    if size > g.params.max_block_bytes:
        raise BlockError(
            ErrorCode.BLOCK_TOO_LARGE,
            f"block {h.height} transactions total {size} bytes > {g.params.max_block_bytes}",
        )
    if h.state_root != state.root:
        raise BlockError(ErrorCode.BLOCK_BAD_STATE_ROOT, f"block {h.height} state root differs from the state it extends")
    check_tx_root(block)


def block_bytes(txs: tuple[bytes, ...] | list[bytes]) -> int:
    """What ``max_block_bytes`` limits: the sum of the transactions' encoded lengths."""
    return sum(len(t) for t in txs)


def _finish(state: State, x: _Exec, height: int, block_hash: bytes) -> State:
    writes = x.writes()
    lt = state.lthash.copy()
    final: dict[bytes, bytes | None] = {}
    for key, new in writes.items():
        old = state.get(key)
        if old == new:
            continue
        if old is not None:
            lt.remove(key, old)
        if new is not None:
            lt.add(key, new)
        final[key] = new
    return State(state.chain, state.base, lt, height, block_hash, x.t, parent=state, writes=final)


def apply_block(
    state: State,
    block: Block,
    checker: Checker | None = None,
    observe: Callable[[int, Tx, bytes], None] | None = None,
) -> State:
    """The state after ``block``, or ``BlockError`` (with ``tx_index`` for a bad transaction).

    ``checker`` runs (or recalls) the signature and proof checks; the default runs
    them all. ``observe(index, tx, tx_hash)`` is called for each applied transaction
    (the audit reads the decoded transactions there instead of decoding them again).
    """
    check_header(state, block)
    x = _Exec(state, block.header.time_ms, checker)
    _auto_close(x)
    hashes = block.tx_hashes()
    for i, raw in enumerate(block.txs):
        try:
            tx = decode_tx(raw)
            h = hashes[i]
            _apply_tx(x, tx, h, raw)
        except TxError as e:
            raise BlockError(e.code, f"block {block.height}, tx {i}: {e.message}", tx_index=i) from None
        if observe is not None:
            observe(i, tx, h)
    return _finish(state, x, block.height, block.hash)


def check_tx(
    state: State, tx: Tx | bytes, now_ms: int, checker: Checker | None = None, raw: bytes | None = None
) -> bytes:
    """Admission check for the mempool: would ``tx`` apply on ``state`` at time ``now_ms``?

    Runs every stateless and stateful rule (auto-closing elections whose end time
    passed, as the next block would), raises ``TxError`` with the rule's code, and
    on success leaves the verdicts in ``checker``. Returns the transaction hash.
    A caller holding both the decoded ``tx`` and its bytes passes ``raw`` too (it
    must be ``tx``'s canonical encoding), saving a second decode or encode.
    """
    if raw is None:
        raw = tx if isinstance(tx, bytes) else encode(tx)
    decoded = decode_tx(raw) if isinstance(tx, bytes) else tx
    h = tx_hash(raw)
    x = _Exec(state, now_ms, checker)
    x.count = False
    _auto_close(x)
    _apply_tx(x, decoded, h, raw)
    return h


def select_txs(
    state: State,
    candidates: list[bytes],
    time_ms: int,
    checker: Checker | None = None,
    limit: int | None = None,
) -> tuple[list[bytes], list[tuple[int, TxError]]]:
    """For a proposer: the candidates that apply, in order, on ``state`` at ``time_ms``
    (each checked against the ones kept before it), and the rejected ones by index
    with their error. A transaction valid alone but conflicting with an earlier one
    (a second ballot with one code, say) is dropped instead of spoiling the block.
    The block stays within ``max_block_bytes``: a candidate that would overflow it is
    left for a later block (not rejected)."""
    x = _Exec(state, time_ms, checker)
    _auto_close(x)
    params = state.chain.genesis.params
    max_txs = params.max_block_txs if limit is None else limit
    room = params.max_block_bytes
    kept: list[bytes] = []
    rejected: list[tuple[int, TxError]] = []
    for i, raw in enumerate(candidates):
        if len(kept) >= max_txs:
            break
        if len(raw) > room:
            continue
        mark = len(x.journal)
        try:
            _apply_tx(x, decode_tx(raw), tx_hash(raw), raw)
        except TxError as e:
            x.rollback(mark)
            rejected.append((i, e))
            continue
        kept.append(raw)
        room -= len(raw)
    return kept, rejected


# --- spreading proof checks over processes (audit, catch-up) --------------------------


@dataclass(frozen=True)
class ProofBatch:
    """Ballot transactions of one block whose proofs can be checked without the state:
    their election was open (joint key fixed) before the block. Plain data, so it can
    be sent to another process."""

    chain_id: bytes
    elections: dict[bytes, tuple[bytes, bytes]]  # election id -> (manifest bytes, joint key)
    txs: tuple[bytes, ...]


def proof_batches(state: State, block: Block, parts: int) -> list[ProofBatch]:
    """Split a block's ballot and spoil transactions into ``parts`` independent batches."""
    elections: dict[bytes, tuple[bytes, bytes]] = {}
    picked: list[bytes] = []
    for raw in block.txs:
        try:
            tx = decode_tx(raw)
        except TxError:
            continue
        body = tx.body
        if not isinstance(body, CastBallot | SpoilBallot):
            continue
        eid = body.election_id
        if eid not in elections:
            st = state.election(eid)
            mbytes = state.get(_k(b"M", eid))
            if st is None or st.joint_key is None or mbytes is None:
                continue
            elections[eid] = (mbytes, st.joint_key)
        picked.append(raw)
    k = max(1, parts)
    return [
        ProofBatch(state.chain.chain_id, elections, tuple(picked[i::k])) for i in range(k) if picked[i::k]
    ]


def verify_batch(batch: ProofBatch) -> list[bytes]:
    """Verdict keys (``checks.signature_key`` and ``checks.ballot_key``) of the batch's
    transactions whose signature and proofs verify, for ``MemoChecker.add`` (the rest
    are left to ``apply_block``, which will name their error)."""
    manifests = {eid: decode(Manifest, mb) for eid, (mb, _) in batch.elections.items()}
    ok = []
    for raw in batch.txs:
        tx = decode_tx(raw)
        body = tx.body
        assert isinstance(body, CastBallot | SpoilBallot)
        m, key = manifests[body.election_id], batch.elections[body.election_id][1]
        try:
            check_signature(tx, batch.chain_id, raw)
            if isinstance(body, CastBallot):
                if body.ballot.election_id != body.election_id:
                    continue
                ballot_crypto.verify_ballot(m, key, tx.signer, body.ballot)
            else:
                ballot_crypto.verify_spoiled(m, key, tx.signer, body.ballot, body.secrets)
        except BallotchainError:
            continue
        h = tx_hash(raw)
        ok += [signature_key(h, batch.chain_id), ballot_key(h, key)]
    return ok
