"""The one table of stable error codes.

Every rejection anywhere in Ballotchain (codec, crypto, transaction rules,
consensus, node API, CLI) carries one of these codes. Codes are part of the
public interface: clients and test vectors match on them, so a code is never
renamed or reused; new ones are only added. docs/errors.md lists them with what to do
(generated from ``CODES`` and ``ballot_tx.error_guide`` by ``python -m ballot_tx.errors
--docs``, and a test keeps it current).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # --- codec -----------------------------------------------------------
    CODEC_OVERSIZE = "CODEC_OVERSIZE"
    CODEC_MALFORMED = "CODEC_MALFORMED"
    CODEC_TRAILING_BYTES = "CODEC_TRAILING_BYTES"
    CODEC_WRONG_TYPE = "CODEC_WRONG_TYPE"
    CODEC_FIELD_COUNT = "CODEC_FIELD_COUNT"
    CODEC_OUT_OF_RANGE = "CODEC_OUT_OF_RANGE"
    CODEC_NON_CANONICAL = "CODEC_NON_CANONICAL"
    CODEC_UNKNOWN_TAG = "CODEC_UNKNOWN_TAG"
    # --- keys and signatures ----------------------------------------------
    KEY_FILE_UNREADABLE = "KEY_FILE_UNREADABLE"
    KEY_FILE_MALFORMED = "KEY_FILE_MALFORMED"
    KEY_WRONG_PASSWORD = "KEY_WRONG_PASSWORD"
    KEY_PASSWORD_REQUIRED = "KEY_PASSWORD_REQUIRED"
    KEY_FILE_EXISTS = "KEY_FILE_EXISTS"
    BAD_PUBLIC_KEY = "BAD_PUBLIC_KEY"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    # --- genesis and config -------------------------------------------------
    GENESIS_INVALID = "GENESIS_INVALID"
    CONFIG_INVALID = "CONFIG_INVALID"
    CONFIG_MISSING = "CONFIG_MISSING"
    CONFIG_TLS = "CONFIG_TLS"
    GENESIS_CONTRIBUTION_INVALID = "GENESIS_CONTRIBUTION_INVALID"
    GENESIS_CONTRIBUTION_BAD_SIGNATURE = "GENESIS_CONTRIBUTION_BAD_SIGNATURE"
    GENESIS_CONTRIBUTION_DUPLICATE = "GENESIS_CONTRIBUTION_DUPLICATE"
    GENESIS_CONTRIBUTION_ROLE = "GENESIS_CONTRIBUTION_ROLE"
    GENESIS_CONTRIBUTION_WRONG_CHAIN = "GENESIS_CONTRIBUTION_WRONG_CHAIN"
    GENESIS_HASH_MISMATCH = "GENESIS_HASH_MISMATCH"
    GENESIS_ENTRY_MISMATCH = "GENESIS_ENTRY_MISMATCH"
    # --- crypto (ballot_tx/crypto, ballot_tx/manifest.py) ----------------------
    CRYPTO_BAD_POINT = "CRYPTO_BAD_POINT"
    CRYPTO_BAD_SCALAR = "CRYPTO_BAD_SCALAR"
    CRYPTO_BAD_PROOF = "CRYPTO_BAD_PROOF"
    CRYPTO_WRONG_ELECTION = "CRYPTO_WRONG_ELECTION"
    CRYPTO_WRONG_SHAPE = "CRYPTO_WRONG_SHAPE"
    CRYPTO_BAD_SELECTION = "CRYPTO_BAD_SELECTION"
    CRYPTO_SPOILED_MISMATCH = "CRYPTO_SPOILED_MISMATCH"
    CRYPTO_BAD_COMMITMENT = "CRYPTO_BAD_COMMITMENT"
    CRYPTO_BAD_SHARE = "CRYPTO_BAD_SHARE"
    CRYPTO_BAD_DECRYPTION_SHARE = "CRYPTO_BAD_DECRYPTION_SHARE"
    CRYPTO_NOT_ENOUGH_SHARES = "CRYPTO_NOT_ENOUGH_SHARES"
    CRYPTO_DLOG_OUT_OF_RANGE = "CRYPTO_DLOG_OUT_OF_RANGE"
    CRYPTO_BAD_TALLY = "CRYPTO_BAD_TALLY"
    CRYPTO_BAD_RESULT = "CRYPTO_BAD_RESULT"
    MANIFEST_VERSION = "MANIFEST_VERSION"
    MANIFEST_BAD_FIELD = "MANIFEST_BAD_FIELD"
    MANIFEST_DUPLICATE_ID = "MANIFEST_DUPLICATE_ID"
    MANIFEST_BAD_CONTEST = "MANIFEST_BAD_CONTEST"
    MANIFEST_BAD_TRUSTEES = "MANIFEST_BAD_TRUSTEES"
    MANIFEST_BAD_TIMES = "MANIFEST_BAD_TIMES"
    MANIFEST_TOO_LARGE = "MANIFEST_TOO_LARGE"
    MANIFEST_BAD_PROVIDER = "MANIFEST_BAD_PROVIDER"
    CRYPTO_BAD_INDICES = "CRYPTO_BAD_INDICES"
    # --- transactions and state machine (ballot_tx/tx.py, state/, block.py) ----
    TX_BAD_SIGNATURE = "TX_BAD_SIGNATURE"
    TX_MALFORMED = "TX_MALFORMED"
    TX_EXPIRED = "TX_EXPIRED"
    TX_EXPIRY_TOO_FAR = "TX_EXPIRY_TOO_FAR"
    TX_DUPLICATE = "TX_DUPLICATE"
    TX_UNAUTHORIZED = "TX_UNAUTHORIZED"
    TX_UNKNOWN_ELECTION = "TX_UNKNOWN_ELECTION"
    TX_ELECTION_EXISTS = "TX_ELECTION_EXISTS"
    TX_BAD_MANIFEST = "TX_BAD_MANIFEST"
    TX_WRONG_PHASE = "TX_WRONG_PHASE"
    TX_OUTSIDE_WINDOW = "TX_OUTSIDE_WINDOW"
    TX_NOT_TRUSTEE = "TX_NOT_TRUSTEE"
    TX_CEREMONY_DUPLICATE = "TX_CEREMONY_DUPLICATE"
    TX_CEREMONY_INCOMPLETE = "TX_CEREMONY_INCOMPLETE"
    TX_BAD_COMMITMENT = "TX_BAD_COMMITMENT"
    TX_BAD_SHARES = "TX_BAD_SHARES"
    TX_BAD_COMPLAINT = "TX_BAD_COMPLAINT"
    TX_BAD_REVEAL = "TX_BAD_REVEAL"
    TX_WRONG_ELIGIBILITY = "TX_WRONG_ELIGIBILITY"
    TX_VOTER_REGISTERED = "TX_VOTER_REGISTERED"
    TX_CARD_TAG_USED = "TX_CARD_TAG_USED"
    TX_CODE_SALT_MISMATCH = "TX_CODE_SALT_MISMATCH"
    TX_TOO_MANY_ENTRIES = "TX_TOO_MANY_ENTRIES"
    TX_NOT_ELIGIBLE = "TX_NOT_ELIGIBLE"
    TX_CODE_USED = "TX_CODE_USED"
    TX_REVOTE_NOT_ALLOWED = "TX_REVOTE_NOT_ALLOWED"
    TX_BAD_BALLOT = "TX_BAD_BALLOT"
    TX_BAD_SPOIL = "TX_BAD_SPOIL"
    TX_BAD_DECRYPTION_SHARE = "TX_BAD_DECRYPTION_SHARE"
    TX_SHARE_DUPLICATE = "TX_SHARE_DUPLICATE"
    TX_BAD_RESULT = "TX_BAD_RESULT"
    TX_BAD_ACKNOWLEDGEMENT = "TX_BAD_ACKNOWLEDGEMENT"
    TX_CEREMONY_UNACKNOWLEDGED = "TX_CEREMONY_UNACKNOWLEDGED"
    TX_JOINT_KEY_IDENTITY = "TX_JOINT_KEY_IDENTITY"
    TX_BAD_EXCLUSION = "TX_BAD_EXCLUSION"
    TX_BALLOT_SPOILED = "TX_BALLOT_SPOILED"
    TX_SPOIL_COUNTED = "TX_SPOIL_COUNTED"
    TX_TOO_MANY_SPOILS = "TX_TOO_MANY_SPOILS"
    TX_TOO_MANY_BALLOTS = "TX_TOO_MANY_BALLOTS"
    TX_VOTE_CANCELLED = "TX_VOTE_CANCELLED"
    TX_CANCEL_NOT_ALLOWED = "TX_CANCEL_NOT_ALLOWED"
    STATE_STALE = "STATE_STALE"
    BLOCK_MALFORMED = "BLOCK_MALFORMED"
    BLOCK_BAD_HEIGHT = "BLOCK_BAD_HEIGHT"
    BLOCK_BAD_PREV_HASH = "BLOCK_BAD_PREV_HASH"
    BLOCK_BAD_TIME = "BLOCK_BAD_TIME"
    BLOCK_BAD_PROPOSER = "BLOCK_BAD_PROPOSER"
    BLOCK_BAD_TX_ROOT = "BLOCK_BAD_TX_ROOT"
    BLOCK_BAD_STATE_ROOT = "BLOCK_BAD_STATE_ROOT"
    BLOCK_TOO_MANY_TXS = "BLOCK_TOO_MANY_TXS"
    BLOCK_TOO_LARGE = "BLOCK_TOO_LARGE"
    BLOCK_BAD_PROOF = "BLOCK_BAD_PROOF"
    # --- consensus (consensus/) ---------------------------------------------------
    CONSENSUS_BAD_MESSAGE = "CONSENSUS_BAD_MESSAGE"
    CONSENSUS_BAD_SIGNATURE = "CONSENSUS_BAD_SIGNATURE"
    CONSENSUS_NOT_VALIDATOR = "CONSENSUS_NOT_VALIDATOR"
    CONSENSUS_WRONG_VIEW = "CONSENSUS_WRONG_VIEW"
    CONSENSUS_OUT_OF_WINDOW = "CONSENSUS_OUT_OF_WINDOW"
    CONSENSUS_CONFLICT = "CONSENSUS_CONFLICT"
    CONSENSUS_INVALID_BLOCK = "CONSENSUS_INVALID_BLOCK"
    CONSENSUS_BAD_CERTIFICATE = "CONSENSUS_BAD_CERTIFICATE"
    CONSENSUS_BAD_VIEW_CHANGE = "CONSENSUS_BAD_VIEW_CHANGE"
    CONSENSUS_BAD_NEW_VIEW = "CONSENSUS_BAD_NEW_VIEW"
    CONSENSUS_BAD_CHECKPOINT = "CONSENSUS_BAD_CHECKPOINT"
    CONSENSUS_BAD_RECORD = "CONSENSUS_BAD_RECORD"
    CONSENSUS_UNTIMELY = "CONSENSUS_UNTIMELY"
    # --- node runtime and HTTP API (node/) -----------------------------------------
    API_BAD_REQUEST = "API_BAD_REQUEST"
    API_NOT_FOUND = "API_NOT_FOUND"
    API_METHOD_NOT_ALLOWED = "API_METHOD_NOT_ALLOWED"
    API_TOO_LARGE = "API_TOO_LARGE"
    API_UNSUPPORTED_MEDIA = "API_UNSUPPORTED_MEDIA"
    API_RATE_LIMITED = "API_RATE_LIMITED"
    API_COMMIT_TIMEOUT = "API_COMMIT_TIMEOUT"
    NODE_MEMPOOL_FULL = "NODE_MEMPOOL_FULL"
    NODE_DUPLICATE_TX = "NODE_DUPLICATE_TX"
    NODE_NOT_VALIDATOR = "NODE_NOT_VALIDATOR"
    NODE_BAD_PEER_MESSAGE = "NODE_BAD_PEER_MESSAGE"
    NODE_PEER_FLOODING = "NODE_PEER_FLOODING"
    NODE_UNAVAILABLE = "NODE_UNAVAILABLE"
    NODE_HOME_INVALID = "NODE_HOME_INVALID"
    NODE_ALREADY_RUNNING = "NODE_ALREADY_RUNNING"
    NODE_NOT_RUNNING = "NODE_NOT_RUNNING"
    API_FORBIDDEN = "API_FORBIDDEN"
    API_REQUEST_TIMEOUT = "API_REQUEST_TIMEOUT"
    NODE_STORE_DAMAGED = "NODE_STORE_DAMAGED"
    NODE_INTERNAL = "NODE_INTERNAL"
    # --- storage (node/store.py) and audit ----------------------------------------
    STORE_CORRUPT = "STORE_CORRUPT"
    STORE_MISSING = "STORE_MISSING"
    STORE_WRONG_CHAIN = "STORE_WRONG_CHAIN"
    STORE_LOCKED = "STORE_LOCKED"
    STORE_NOT_FOUND = "STORE_NOT_FOUND"
    STORE_OUT_OF_ORDER = "STORE_OUT_OF_ORDER"
    BACKUP_CORRUPT = "BACKUP_CORRUPT"
    BACKUP_WRONG_CHAIN = "BACKUP_WRONG_CHAIN"
    BACKUP_TARGET_NOT_EMPTY = "BACKUP_TARGET_NOT_EMPTY"
    STORE_READ_ONLY = "STORE_READ_ONLY"
    STORE_DISK_FULL = "STORE_DISK_FULL"
    STORE_IO = "STORE_IO"
    AUDIT_CHAIN_BROKEN = "AUDIT_CHAIN_BROKEN"
    AUDIT_CERTIFICATE_MISSING = "AUDIT_CERTIFICATE_MISSING"
    AUDIT_BAD_CERTIFICATE = "AUDIT_BAD_CERTIFICATE"
    AUDIT_STATE_MISMATCH = "AUDIT_STATE_MISMATCH"
    AUDIT_RESULT_MISMATCH = "AUDIT_RESULT_MISMATCH"
    AUDIT_UNLISTED = "AUDIT_UNLISTED"
    # --- eligibility, CLI workflows, i18n, speech (cli/, ballot_tx/eligibility) ----
    ELIGIBILITY_REJECTED = "ELIGIBILITY_REJECTED"
    ELIGIBILITY_MALFORMED = "ELIGIBILITY_MALFORMED"
    ELIGIBILITY_WRONG_ELECTION = "ELIGIBILITY_WRONG_ELECTION"
    ELIGIBILITY_WRONG_CA = "ELIGIBILITY_WRONG_CA"
    ELIGIBILITY_WRONG_KEY_USAGE = "ELIGIBILITY_WRONG_KEY_USAGE"
    ELIGIBILITY_CARD_NOT_YET_VALID = "ELIGIBILITY_CARD_NOT_YET_VALID"
    ELIGIBILITY_CARD_EXPIRED = "ELIGIBILITY_CARD_EXPIRED"
    ELIGIBILITY_CRL_INVALID = "ELIGIBILITY_CRL_INVALID"
    ELIGIBILITY_CARD_REVOKED = "ELIGIBILITY_CARD_REVOKED"
    ELIGIBILITY_BAD_SIGNATURE = "ELIGIBILITY_BAD_SIGNATURE"
    ELIGIBILITY_BAD_CODE = "ELIGIBILITY_BAD_CODE"
    ELIGIBILITY_NO_IDENTITY = "ELIGIBILITY_NO_IDENTITY"
    ELIGIBILITY_TOKEN_INVALID = "ELIGIBILITY_TOKEN_INVALID"
    ELIGIBILITY_TOKEN_EXPIRED = "ELIGIBILITY_TOKEN_EXPIRED"
    ELIGIBILITY_WRONG_ISSUER = "ELIGIBILITY_WRONG_ISSUER"
    ELIGIBILITY_WRONG_AUDIENCE = "ELIGIBILITY_WRONG_AUDIENCE"
    ELIGIBILITY_NONCE_MISMATCH = "ELIGIBILITY_NONCE_MISMATCH"
    REGISTRAR_LOGIN_UNKNOWN = "REGISTRAR_LOGIN_UNKNOWN"
    REGISTRAR_PROVIDER_ERROR = "REGISTRAR_PROVIDER_ERROR"
    REGISTRAR_NOT_SERVED = "REGISTRAR_NOT_SERVED"
    REGISTRAR_BAD_RETURN = "REGISTRAR_BAD_RETURN"
    REGISTRAR_NOT_KEY_HOLDER = "REGISTRAR_NOT_KEY_HOLDER"
    REGISTRAR_PROVIDER_MISMATCH = "REGISTRAR_PROVIDER_MISMATCH"
    SPEECH_ENGINE_MISSING = "SPEECH_ENGINE_MISSING"
    SPEECH_FAILED = "SPEECH_FAILED"
    MANIFEST_TOML_SYNTAX = "MANIFEST_TOML_SYNTAX"
    VOTE_UNKNOWN_CONTEST = "VOTE_UNKNOWN_CONTEST"
    VOTE_UNKNOWN_OPTION = "VOTE_UNKNOWN_OPTION"
    VOTE_BAD_COUNT = "VOTE_BAD_COUNT"
    VOTE_BAD_RATING = "VOTE_BAD_RATING"
    VOTE_BAD_CHOICES = "VOTE_BAD_CHOICES"
    CLI_NODE_UNREACHABLE = "CLI_NODE_UNREACHABLE"
    CLI_NODE_BAD_RESPONSE = "CLI_NODE_BAD_RESPONSE"
    VOTE_NOT_OPEN = "VOTE_NOT_OPEN"
    RECEIPT_NOT_FOUND = "RECEIPT_NOT_FOUND"
    RECEIPT_BAD_PROOF = "RECEIPT_BAD_PROOF"
    RECEIPT_BAD_CERTIFICATE = "RECEIPT_BAD_CERTIFICATE"
    RECEIPT_BAD_FORMAT = "RECEIPT_BAD_FORMAT"
    RECEIPT_AMBIGUOUS = "RECEIPT_AMBIGUOUS"
    RECEIPT_WRONG_CHAIN = "RECEIPT_WRONG_CHAIN"
    RECEIPT_NODES_DISAGREE = "RECEIPT_NODES_DISAGREE"
    LETTER_BAD_CODES = "LETTER_BAD_CODES"
    LETTER_FONT_MISSING = "LETTER_FONT_MISSING"
    # --- voting page (web/, node/web.py) ---------------------------------------
    WEB_WRONG_CHAIN = "WEB_WRONG_CHAIN"
    WEB_MANIFEST_MISMATCH = "WEB_MANIFEST_MISMATCH"
    WEB_IMAGE_MISMATCH = "WEB_IMAGE_MISMATCH"
    WEB_NODES_DISAGREE = "WEB_NODES_DISAGREE"
    WEB_NOT_OPEN = "WEB_NOT_OPEN"
    WEB_NETWORK = "WEB_NETWORK"
    WEB_NOT_REGISTERED = "WEB_NOT_REGISTERED"
    WEB_PROVIDER_MISMATCH = "WEB_PROVIDER_MISMATCH"
    # --- generic user input ----------------------------------------------------
    USAGE = "USAGE"
    IO_ERROR = "IO_ERROR"


#: Human description of each code, for docs/errors.md and ``--help`` texts.
CODES: dict[ErrorCode, str] = {
    ErrorCode.CODEC_OVERSIZE: "encoded object is larger than the limit for its kind",
    ErrorCode.CODEC_MALFORMED: "bytes are not valid msgpack",
    ErrorCode.CODEC_TRAILING_BYTES: "bytes follow the encoded object",
    ErrorCode.CODEC_WRONG_TYPE: "a field has the wrong type",
    ErrorCode.CODEC_FIELD_COUNT: "an object has missing or unknown fields",
    ErrorCode.CODEC_OUT_OF_RANGE: "a value is outside its allowed range or length",
    ErrorCode.CODEC_NON_CANONICAL: "the encoding is valid msgpack but not the canonical one",
    ErrorCode.CODEC_UNKNOWN_TAG: "a tagged union names an unknown variant",
    ErrorCode.KEY_FILE_UNREADABLE: "the key file cannot be read",
    ErrorCode.KEY_FILE_MALFORMED: "the key file is damaged or not a Ballotchain key file",
    ErrorCode.KEY_WRONG_PASSWORD: "the password does not open the key file",
    ErrorCode.KEY_PASSWORD_REQUIRED: "the key file is encrypted and needs a password",
    ErrorCode.KEY_FILE_EXISTS: "refusing to overwrite an existing key file",
    ErrorCode.BAD_PUBLIC_KEY: "a public key is not a valid point",
    ErrorCode.BAD_SIGNATURE: "a signature does not verify",
    ErrorCode.GENESIS_INVALID: "the genesis document is invalid",
    ErrorCode.CONFIG_INVALID: "the node configuration is invalid",
    ErrorCode.CONFIG_MISSING: "the node home has no readable config.toml",
    ErrorCode.CONFIG_TLS: "the TLS certificate, key or CA named in the config cannot be used",
    ErrorCode.GENESIS_CONTRIBUTION_INVALID: "a genesis contribution file is malformed",
    ErrorCode.GENESIS_CONTRIBUTION_BAD_SIGNATURE: "a genesis contribution's proof of key possession does not verify",
    ErrorCode.GENESIS_CONTRIBUTION_DUPLICATE: "two genesis contributions share a key or an address",
    ErrorCode.GENESIS_CONTRIBUTION_ROLE: "a genesis contribution names an unknown role or lacks what its role needs",
    ErrorCode.GENESIS_CONTRIBUTION_WRONG_CHAIN: "a genesis contribution was made for another chain",
    ErrorCode.GENESIS_HASH_MISMATCH: "the genesis hash differs from the one expected",
    ErrorCode.GENESIS_ENTRY_MISMATCH: "the genesis lacks this key's entry or lists it differently",
    # crypto
    ErrorCode.CRYPTO_BAD_POINT: "a group element is not a canonical ristretto255 point",
    ErrorCode.CRYPTO_BAD_SCALAR: "a scalar is not canonical (must be little-endian and below the group order)",
    ErrorCode.CRYPTO_BAD_PROOF: "a zero-knowledge proof does not verify",
    ErrorCode.CRYPTO_WRONG_ELECTION: "the object belongs to another election",
    ErrorCode.CRYPTO_WRONG_SHAPE: "the object does not match the manifest's contests, options or trustees",
    ErrorCode.CRYPTO_BAD_SELECTION: "the selections are not a valid vote for the manifest",
    ErrorCode.CRYPTO_SPOILED_MISMATCH: "a spoiled ballot's revealed randomness does not reproduce it",
    ErrorCode.CRYPTO_BAD_COMMITMENT: "a trustee's polynomial commitment or its proofs are invalid",
    ErrorCode.CRYPTO_BAD_SHARE: "a key-ceremony share is unreadable or inconsistent with its commitment",
    ErrorCode.CRYPTO_BAD_DECRYPTION_SHARE: "a trustee's decryption share or its proof is invalid",
    ErrorCode.CRYPTO_NOT_ENOUGH_SHARES: "fewer decryption shares than the threshold",
    ErrorCode.CRYPTO_DLOG_OUT_OF_RANGE: "a decrypted count lies outside its possible range",
    ErrorCode.CRYPTO_BAD_TALLY: "the encrypted tally does not match the counted ballots",
    ErrorCode.CRYPTO_BAD_RESULT: "a published result does not follow from the record",
    ErrorCode.MANIFEST_VERSION: "the manifest version is not supported",
    ErrorCode.MANIFEST_BAD_FIELD: "a manifest field is empty, too long or malformed",
    ErrorCode.MANIFEST_DUPLICATE_ID: "two contests, options or trustees share an id or key",
    ErrorCode.MANIFEST_BAD_CONTEST: "a contest's kind, options or selection limits are inconsistent",
    ErrorCode.MANIFEST_BAD_TRUSTEES: "the trustee list or threshold is invalid",
    ErrorCode.MANIFEST_BAD_TIMES: "the voting period is empty or inverted",
    ErrorCode.MANIFEST_TOO_LARGE: "the manifest has more contests or options than a ballot can carry",
    ErrorCode.MANIFEST_BAD_PROVIDER: "the city-login identity provider (issuer, client id) is missing, malformed, or given for another method",
    ErrorCode.CRYPTO_BAD_INDICES: "interpolation needs distinct trustee indices, each at least 1",
    # transactions and state machine
    ErrorCode.TX_BAD_SIGNATURE: "the transaction signature does not verify",
    ErrorCode.TX_MALFORMED: "the transaction is not a well-formed canonical object",
    ErrorCode.TX_EXPIRED: "the transaction's expiry time is before the block time",
    ErrorCode.TX_EXPIRY_TOO_FAR: "the transaction's expiry is further ahead than the allowed lifetime",
    ErrorCode.TX_DUPLICATE: "this exact transaction was already included (replay)",
    ErrorCode.TX_UNAUTHORIZED: "the signer does not hold the role this transaction needs",
    ErrorCode.TX_UNKNOWN_ELECTION: "no election with this id exists",
    ErrorCode.TX_ELECTION_EXISTS: "an election with this manifest already exists",
    ErrorCode.TX_BAD_MANIFEST: "the election manifest is invalid",
    ErrorCode.TX_WRONG_PHASE: "the election is not in the phase this transaction needs",
    ErrorCode.TX_OUTSIDE_WINDOW: "the block time is outside the election's voting window",
    ErrorCode.TX_NOT_TRUSTEE: "the signer is not a trustee of this election",
    ErrorCode.TX_CEREMONY_DUPLICATE: "this trustee already posted this ceremony step",
    ErrorCode.TX_CEREMONY_INCOMPLETE: "the key ceremony is not complete",
    ErrorCode.TX_BAD_COMMITMENT: "a trustee commitment or its proof is invalid",
    ErrorCode.TX_BAD_SHARES: "a trustee's encrypted shares are malformed",
    ErrorCode.TX_BAD_COMPLAINT: "a share complaint is malformed or names no posted share",
    ErrorCode.TX_BAD_REVEAL: "a revealed share answers no complaint or does not match the commitment",
    ErrorCode.TX_WRONG_ELIGIBILITY: "the registration does not match the election's eligibility method",
    ErrorCode.TX_VOTER_REGISTERED: "this voter key is already registered for the election",
    ErrorCode.TX_CARD_TAG_USED: "this ID card tag was already used to register in the election",
    ErrorCode.TX_CODE_SALT_MISMATCH: "the one-time-code salt differs from the election's salt",
    ErrorCode.TX_TOO_MANY_ENTRIES: "a registration batch is empty or too large",
    ErrorCode.TX_NOT_ELIGIBLE: "the ballot signer is not a registered voter of the election",
    ErrorCode.TX_CODE_USED: "this one-time code was already used to cast a ballot",
    ErrorCode.TX_REVOTE_NOT_ALLOWED: "this voter already voted and the election does not allow re-voting",
    ErrorCode.TX_BAD_BALLOT: "the encrypted ballot or its validity proof does not verify",
    ErrorCode.TX_BAD_SPOIL: "the spoiled ballot's revealed randomness does not match it",
    ErrorCode.TX_BAD_DECRYPTION_SHARE: "a decryption share or its proof is invalid",
    ErrorCode.TX_SHARE_DUPLICATE: "this trustee already posted a decryption share",
    ErrorCode.TX_BAD_RESULT: "the published result does not match the tally and decryption shares",
    ErrorCode.TX_BAD_ACKNOWLEDGEMENT: "a share acknowledgement names no posted shares, itself, or shares other than those on chain",
    ErrorCode.TX_CEREMONY_UNACKNOWLEDGED: "a qualified trustee has neither acknowledged another's shares nor had its complaint answered",
    ErrorCode.TX_JOINT_KEY_IDENTITY: "the qualified trustees' joint key would be the identity point",
    ErrorCode.TX_BAD_EXCLUSION: "the open excludes a trustee index that is not a trustee, or lists one twice or out of order",
    ErrorCode.TX_BALLOT_SPOILED: "the ballot's ciphertexts were published as a spoiled ballot and can never be cast",
    ErrorCode.TX_SPOIL_COUNTED: "the ballot to spoil is the voter's counted ballot (spoiling it would publish the vote)",
    ErrorCode.TX_TOO_MANY_SPOILS: "this voter has spoiled as many ballots as the election allows",
    ErrorCode.TX_TOO_MANY_BALLOTS: "this voter has cast as many ballots as the election allows",
    ErrorCode.TX_VOTE_CANCELLED: "the voter voted on paper: the internet vote is cancelled and cannot be cast again",
    ErrorCode.TX_CANCEL_NOT_ALLOWED: "internet votes can be cancelled only in re-voting elections with registered keys",
    ErrorCode.STATE_STALE: "a state snapshot was used after a later state was committed over it",
    ErrorCode.BLOCK_MALFORMED: "the block is not a well-formed canonical object",
    ErrorCode.BLOCK_BAD_HEIGHT: "the block height does not follow the previous block",
    ErrorCode.BLOCK_BAD_PREV_HASH: "the block does not link to the previous block's hash",
    ErrorCode.BLOCK_BAD_TIME: "the block time does not increase or precedes genesis",
    ErrorCode.BLOCK_BAD_PROPOSER: "the block proposer is not a validator",
    ErrorCode.BLOCK_BAD_TX_ROOT: "the block's transaction Merkle root does not match its transactions",
    ErrorCode.BLOCK_BAD_STATE_ROOT: "the block's state root differs from the state after the previous block",
    ErrorCode.BLOCK_TOO_MANY_TXS: "the block holds more transactions than genesis allows",
    ErrorCode.BLOCK_TOO_LARGE: "the block's transactions total more bytes than genesis max_block_bytes allows",
    ErrorCode.BLOCK_BAD_PROOF: "a Merkle inclusion proof does not verify",
    # consensus
    ErrorCode.CONSENSUS_BAD_MESSAGE: "a consensus message is malformed or wrongly signed",
    ErrorCode.CONSENSUS_BAD_SIGNATURE: "a consensus signature does not verify under the sender's genesis key",
    ErrorCode.CONSENSUS_NOT_VALIDATOR: "a consensus message names a sender that is not a genesis validator",
    ErrorCode.CONSENSUS_WRONG_VIEW: "a consensus message is for a view this replica is not in",
    ErrorCode.CONSENSUS_OUT_OF_WINDOW: "a consensus message's height is outside the watermarks",
    ErrorCode.CONSENSUS_CONFLICT: "a message conflicts with one already accepted for its view and height",
    ErrorCode.CONSENSUS_INVALID_BLOCK: "the application rejected a proposed or fetched block",
    ErrorCode.CONSENSUS_BAD_CERTIFICATE: "a commit certificate lacks 2f+1 valid distinct validator signatures",
    ErrorCode.CONSENSUS_BAD_VIEW_CHANGE: "a VIEW-CHANGE carries an invalid checkpoint or prepared proof",
    ErrorCode.CONSENSUS_BAD_NEW_VIEW: "a NEW-VIEW's view changes or pre-prepares do not check out",
    ErrorCode.CONSENSUS_BAD_CHECKPOINT: "a checkpoint proof lacks 2f+1 matching valid signatures",
    ErrorCode.CONSENSUS_BAD_RECORD: "the persisted consensus record is damaged or for another chain",
    ErrorCode.CONSENSUS_UNTIMELY: "a proposal's block time is outside the timeliness window when it arrived (not prepared)",
    # node runtime and HTTP API
    ErrorCode.API_BAD_REQUEST: "the HTTP request is malformed",
    ErrorCode.API_NOT_FOUND: "no such route, block, transaction, election or receipt",
    ErrorCode.API_METHOD_NOT_ALLOWED: "the route does not accept this HTTP method",
    ErrorCode.API_TOO_LARGE: "the request body is larger than the node accepts",
    ErrorCode.API_UNSUPPORTED_MEDIA: "the request body has the wrong content type",
    ErrorCode.API_RATE_LIMITED: "too many requests from this client; retry later",
    ErrorCode.API_COMMIT_TIMEOUT: "the transaction was accepted but not committed in time",
    ErrorCode.NODE_MEMPOOL_FULL: "the node's mempool is full; retry later",
    ErrorCode.NODE_DUPLICATE_TX: "the transaction is already pending or committed",
    ErrorCode.NODE_NOT_VALIDATOR: "a consensus message came from a key that is not a validator",
    ErrorCode.NODE_BAD_PEER_MESSAGE: "a peer message is malformed, wrongly signed or for another chain",
    ErrorCode.NODE_PEER_FLOODING: "a validator's consensus messages were dropped: too many of its messages wait already",
    ErrorCode.NODE_UNAVAILABLE: "no validator could be reached to take the transaction",
    ErrorCode.NODE_HOME_INVALID: "the node home is missing its key, genesis or data directory",
    ErrorCode.NODE_ALREADY_RUNNING: "a node is already running from this home (live pid file)",
    ErrorCode.NODE_NOT_RUNNING: "no node of the local network is running",
    ErrorCode.API_FORBIDDEN: "this route is served only to the node's own host, not through a proxy",
    ErrorCode.API_REQUEST_TIMEOUT: "the request (headers or body) did not arrive in time",
    ErrorCode.NODE_STORE_DAMAGED: "the node's database is damaged; it stopped voting (resync it)",
    ErrorCode.NODE_INTERNAL: "an internal task of the node failed (a bug: see the node's log)",
    # storage and audit
    ErrorCode.STORE_CORRUPT: "a stored record fails its hash or cannot be decoded",
    ErrorCode.STORE_MISSING: "a record the store needs is missing",
    ErrorCode.STORE_WRONG_CHAIN: "the database belongs to another chain",
    ErrorCode.STORE_LOCKED: "the database is in use by another process",
    ErrorCode.STORE_NOT_FOUND: "no Ballotchain database at this path",
    ErrorCode.STORE_OUT_OF_ORDER: "a block was committed out of height order",
    ErrorCode.BACKUP_CORRUPT: "the backup file is damaged (its hash or a record does not check)",
    ErrorCode.BACKUP_WRONG_CHAIN: "the backup belongs to another chain than the node's genesis",
    ErrorCode.BACKUP_TARGET_NOT_EMPTY: "the node home already holds a database; refusing to overwrite it",
    ErrorCode.STORE_READ_ONLY: "the data directory cannot be written (permissions or read-only mount)",
    ErrorCode.STORE_DISK_FULL: "the disk holding the database is full",
    ErrorCode.STORE_IO: "the database could not be read or written (I/O error)",
    ErrorCode.AUDIT_CHAIN_BROKEN: "the replayed chain does not link or verify",
    ErrorCode.AUDIT_CERTIFICATE_MISSING: "a committed block has no commit certificate",
    ErrorCode.AUDIT_BAD_CERTIFICATE: "a commit certificate does not verify against genesis",
    ErrorCode.AUDIT_STATE_MISMATCH: "the stored state differs from the replayed state",
    ErrorCode.AUDIT_RESULT_MISMATCH: "a published result differs from the recomputed tally",
    ErrorCode.AUDIT_UNLISTED: "an election record holds a file, field or kind its layout does not list",
    # eligibility and CLI workflows
    ErrorCode.ELIGIBILITY_REJECTED: "the voter is not eligible under the election's method",
    ErrorCode.ELIGIBILITY_MALFORMED: "an ID-card registration request or certificate is malformed",
    ErrorCode.ELIGIBILITY_WRONG_ELECTION: "the card signature is for another election",
    ErrorCode.ELIGIBILITY_WRONG_CA: "the card certificate was not issued by the configured card authority",
    ErrorCode.ELIGIBILITY_WRONG_KEY_USAGE: "the card certificate is not a signing certificate",
    ErrorCode.ELIGIBILITY_CARD_NOT_YET_VALID: "the card certificate is not valid yet",
    ErrorCode.ELIGIBILITY_CARD_EXPIRED: "the card certificate has expired",
    ErrorCode.ELIGIBILITY_CRL_INVALID: "the revocation list is not signed by the card authority or is out of date",
    ErrorCode.ELIGIBILITY_CARD_REVOKED: "the card certificate has been revoked",
    ErrorCode.ELIGIBILITY_BAD_SIGNATURE: "the card's signature over the voter key does not verify",
    ErrorCode.ELIGIBILITY_BAD_CODE: "a typed voting code is malformed or fails its check character",
    ErrorCode.ELIGIBILITY_NO_IDENTITY: "the card certificate lacks the holder's name or date of birth",
    ErrorCode.ELIGIBILITY_TOKEN_INVALID: "the ID token is malformed or not signed by the identity provider's keys",
    ErrorCode.ELIGIBILITY_TOKEN_EXPIRED: "the ID token has expired",
    ErrorCode.ELIGIBILITY_WRONG_ISSUER: "the ID token comes from another identity provider than the election's",
    ErrorCode.ELIGIBILITY_WRONG_AUDIENCE: "the ID token was issued for another client than this registrar",
    ErrorCode.ELIGIBILITY_NONCE_MISMATCH: "the ID token belongs to another sign-in (nonce mismatch: a replay)",
    ErrorCode.REGISTRAR_LOGIN_UNKNOWN: "the sign-in is unknown, expired or already finished (state used once)",
    ErrorCode.REGISTRAR_PROVIDER_ERROR: "the identity provider refused the sign-in or could not be reached",
    ErrorCode.REGISTRAR_NOT_SERVED: "the registrar service does not register voters for this election or method",
    ErrorCode.REGISTRAR_BAD_RETURN: "the page address to return to is not one the registrar serves",
    ErrorCode.REGISTRAR_NOT_KEY_HOLDER: "a sign-in was finished without the signature of the key it registers",
    ErrorCode.REGISTRAR_PROVIDER_MISMATCH: "the registrar's configured identity provider differs from the one an election's manifest names",
    ErrorCode.SPEECH_ENGINE_MISSING: "the speech engine for the chosen language is not installed",
    ErrorCode.SPEECH_FAILED: "speech could not be synthesized or played",
    ErrorCode.MANIFEST_TOML_SYNTAX: "the election.toml manifest is not valid TOML",
    ErrorCode.VOTE_UNKNOWN_CONTEST: "the choices name a contest that is not on the ballot",
    ErrorCode.VOTE_UNKNOWN_OPTION: "the choices name an option that is not in the contest",
    ErrorCode.VOTE_BAD_COUNT: "too many or too few options are chosen in a contest",
    ErrorCode.VOTE_BAD_RATING: "a rating is not one of 0, 10, ..., 100, or an item is not rated",
    ErrorCode.VOTE_BAD_CHOICES: "the --choices text is not in the form contest=option;...",
    ErrorCode.CLI_NODE_UNREACHABLE: "the node cannot be reached at the given URL",
    ErrorCode.CLI_NODE_BAD_RESPONSE: "the node answered something that is not the Ballotchain API",
    ErrorCode.VOTE_NOT_OPEN: "the election is not accepting ballots now",
    ErrorCode.RECEIPT_NOT_FOUND: "no ballot with this tracking code is on the chain",
    ErrorCode.RECEIPT_BAD_PROOF: "the inclusion proof of the receipt does not verify",
    ErrorCode.RECEIPT_BAD_CERTIFICATE: "the receipt's block is not certified by the genesis validators",
    ErrorCode.RECEIPT_BAD_FORMAT: "what was typed is not a tracking code (64 hex digits) or its short form (16)",
    ErrorCode.RECEIPT_AMBIGUOUS: "more than one ballot starts with this short code: give the full tracking code",
    ErrorCode.RECEIPT_WRONG_CHAIN: "the node serves another chain than the fingerprint on the voting letter",
    ErrorCode.RECEIPT_NODES_DISAGREE: "two nodes give different answers about the same ballot",
    ErrorCode.LETTER_BAD_CODES: "the codes file for voting letters is not the CSV 'voters codes' writes",
    ErrorCode.LETTER_FONT_MISSING: "no Japanese font is installed to print voting letters",
    # voting page
    ErrorCode.WEB_WRONG_CHAIN: "a node serves another chain than the one the voting page trusts",
    ErrorCode.WEB_MANIFEST_MISMATCH: "the manifest a node sent does not hash to the election id",
    ErrorCode.WEB_IMAGE_MISMATCH: "an option's image does not match its hash in the manifest",
    ErrorCode.WEB_NODES_DISAGREE: "two nodes give different data for the same election",
    ErrorCode.WEB_NOT_OPEN: "the election does not accept ballots now",
    ErrorCode.WEB_NETWORK: "the voting page could not reach a node",
    ErrorCode.WEB_NOT_REGISTERED: "the registrar's answer is not a certified registration of this device's key",
    ErrorCode.WEB_PROVIDER_MISMATCH: "the sign-in would not go to the identity provider and client id the election's manifest names",
    # generic
    ErrorCode.USAGE: "the command was used incorrectly",
    ErrorCode.IO_ERROR: "a file could not be read or written",
}


class BallotchainError(Exception):
    """Base of every expected, user-facing failure: a code plus one readable sentence."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"error": str(self.code), "message": self.message}


class CodecError(BallotchainError):
    """Bytes that are not the canonical encoding of a well-formed object."""


class KeyError_(BallotchainError):
    """A key file or key material problem (named to avoid shadowing the builtin)."""


class CryptoError(BallotchainError):
    """A ballot, proof, ceremony message or tally fails a cryptographic check."""


class ManifestError(BallotchainError):
    """An election manifest is malformed or inconsistent (the message names the field)."""


class GenesisError(BallotchainError):
    """The genesis document is malformed or inconsistent."""


class EligibilityError(BallotchainError):
    """A voter's proof of eligibility (ID card, one-time code) is rejected."""


class TxError(BallotchainError):
    """A transaction that must not be applied: the code says which rule it broke."""


class BlockError(BallotchainError):
    """A block that is invalid as a whole; ``tx_index`` names the offending transaction, if any."""

    def __init__(self, code: ErrorCode, message: str, tx_index: int | None = None) -> None:
        super().__init__(code, message)
        self.tx_index = tx_index


class StateError(BallotchainError):
    """Misuse of a state snapshot (a programming error in the caller, reported with a code)."""


class StoreError(BallotchainError):
    """The node database is missing, locked, or holds a record that fails its check."""


class AuditError(BallotchainError):
    """The first failure found by a replay audit, with where it was found."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        height: int | None = None,
        tx_index: int | None = None,
    ) -> None:
        where = ""
        if height is not None:
            where = f"block {height}" + (f", tx {tx_index}" if tx_index is not None else "") + ": "
        super().__init__(code, where + message)
        self.height = height
        self.tx_index = tx_index


class ConsensusError(BallotchainError):
    """A consensus message, proof or certificate that does not check out."""
