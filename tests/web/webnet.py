"""A real 4+1 localnet with two elections ready for the browser test.

* election A, ``one-time-code`` (voted in Japanese): a single choice with pictures
  (their SHA-256 in the manifest), a multiple choice (1..2) and the mayor's pledges
  rated 0..100;
* election B, ``registered-key`` with re-voting (voted in English with a
  password-protected key file): the same contests without pictures;
* election C: a manifest whose picture hash is wrong (the page must stop).

Officials, trustees and the registrar act through the validators' HTTP API
(``node.netchain.NetworkChain``), as in ``scripts/demo``; after the browser has voted,
``finish`` closes A and B, has 2 of 3 trustees decrypt, publishes the results and
returns them.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from ballot_tx.codec import hash_bytes
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.crypto import trustees as tr
from ballot_tx.eligibility.one_time_code import (
    CommitCodes,
    code_from_seed,
    code_public_key,
    format_code,
)
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.keys import KeyPair, dump_key_file
from ballot_tx.manifest import Contest, Image, Label, Manifest, Option, TrusteeInfo, election_id
from ballot_tx.tx import (
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
    TrusteeCommit,
    TrusteeShares,
    TxBody,
)
from genesis.document import ConsensusParams
from genesis.localnet import make_network
from node import localnet as ln
from node.netchain import NetworkChain
from node.txgen import NetKeys

PARAMS = ConsensusParams(max_block_txs=200, block_interval_ms=100, view_timeout_ms=2000, checkpoint_interval=50)
KEY_PASSWORD = "つくば-2026-pass"


def svg(color: str, shape: str) -> bytes:
    body = {
        "circle": f'<circle cx="32" cy="32" r="26" fill="{color}"/>',
        "square": f'<rect x="8" y="8" width="48" height="48" fill="{color}"/>',
        "triangle": f'<polygon points="32,6 58,56 6,56" fill="{color}"/>',
    }[shape]
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">{body}</svg>'.encode()


def image(data: bytes, wrong: bool = False) -> Image:
    digest = hashlib.sha256(data + (b"x" if wrong else b"")).digest()
    return Image(digest, "data:image/svg+xml;base64," + base64.b64encode(data).decode())


def web_manifest(name: str, trustees: list[KeyPair], eligibility: str, now: int,
                 images: bool, wrong_image: bool = False) -> Manifest:
    pics = [svg("#0b6e4f", "circle"), svg("#8a3b12", "square"), svg("#3a4fa0", "triangle")]
    park = (
        Option("kenkyu-gakuen", Label("研究学園", "Kenkyu-gakuen"), image(pics[0], wrong_image) if images else None),
        Option("tsukuba-center", Label("つくば駅前", "Tsukuba Center"), image(pics[1]) if images else None),
        Option("mt-tsukuba", Label("筑波山麓", "Foot of Mt Tsukuba"), image(pics[2]) if images else None),
    )
    contests = (
        Contest("park", "single", Label("新しい公園の場所", "Location of the new park"), park, 1, 1),
        Contest(
            "facilities", "multiple", Label("優先する施設(1〜2つ)", "Facilities to prioritise (1 to 2)"),
            (
                Option("library", Label("図書館", "Library"), None),
                Option("pool", Label("市民プール", "Public pool"), None),
                Option("clinic", Label("夜間診療所", "Night clinic"), None),
            ),
            1, 2,
        ),
        Contest(
            "pledges", "rating", Label("市長公約の評価", "Rating of the mayor's pledges"),
            (
                Option("childcare", Label("子育て支援", "Childcare support"), None),
                Option("transit", Label("公共交通", "Public transit"), None),
                Option("digital", Label("行政のデジタル化", "Digital city hall"), None),
            ),
            3, 3,
        ),
    )
    return Manifest(
        version=1, name=name, title=Label(f"つくば市 住民投票 ({name})", f"Tsukuba city poll ({name})"),
        contests=contests, eligibility=eligibility, start_ms=now - 60_000, end_ms=now + 86_400_000,
        revoting=eligibility == "registered-key",
        trustees=tuple(TrusteeInfo(f"trustee-{i + 1}", k.ed25519_public, k.x25519_public)
                       for i, k in enumerate(trustees)),
        threshold=2, nonce=hash_bytes("web-test-nonce", name.encode()),
    )


@dataclass
class Election:
    manifest: Manifest
    coeffs: dict[int, list[int]] = field(default_factory=dict)
    commitments: dict[int, tr.TrusteeCommitment] = field(default_factory=dict)
    shares: dict[int, int] = field(default_factory=dict)

    @property
    def eid(self) -> bytes:
        return election_id(self.manifest)


class WebNet:
    def __init__(self, root: Path) -> None:
        base = ln.free_base_port(5)
        make_network(root, "webtest", 4, 1, base, params=PARAMS)
        self.root = root
        self.keys = NetKeys(root)
        self.nodes = ln.discover(root)
        self.validators = self.nodes[:4]
        self.observer = self.nodes[4]
        self.trustees = [KeyPair.from_seed(bytes([0x51 + i]) * 32) for i in range(3)]
        self.chain = NetworkChain(self.keys.chain_id, [n.url for n in self.validators], self.observer.url)

    def start(self) -> None:
        for n in self.nodes:
            ln.start(n)
        ln.wait_ready(self.nodes, timeout=60)

    def stop(self) -> None:
        for n in self.nodes:
            try:
                ln.stop(n)
            except Exception:  # noqa: BLE001 - best effort at teardown
                ln.kill9(n)

    def tx(self, keys: KeyPair, body: TxBody) -> object:
        return self.keys.sign(keys, body)

    def run(self, signer: KeyPair, bodies: list[TxBody]) -> list[bytes]:
        return self.chain.run([self.keys.sign(signer, b) for b in bodies])  # type: ignore[arg-type]

    def create(self, name: str, eligibility: str, images: bool, wrong_image: bool = False) -> Election:
        now = int(time.time() * 1000)
        m = web_manifest(name, self.trustees, eligibility, now, images, wrong_image)
        self.run(self.keys.admin, [CreateElection(m)])
        return Election(m)

    def ceremony_and_open(self, e: Election) -> None:
        m, eid = e.manifest, e.eid
        e.coeffs = {i: tr.polynomial(m, i, k) for i, k in enumerate(self.trustees, start=1)}
        e.commitments = {i: tr.make_commitment(m, i, e.coeffs[i]) for i in e.coeffs}
        self.chain.run([self.keys.sign(self.trustees[i - 1], TrusteeCommit(eid, e.commitments[i])) for i in e.coeffs])
        sent = {i: tr.make_shares(m, i, self.trustees[i - 1], e.coeffs[i], e.commitments[i]) for i in e.coeffs}
        self.chain.run([self.keys.sign(self.trustees[i - 1], TrusteeShares(eid, sent[i])) for i in e.coeffs])
        qualified = [e.commitments[i] for i in sorted(e.commitments)]
        for j, keys in enumerate(self.trustees, start=1):
            received = {s.sender: tr.open_share(m, keys, e.commitments[s.sender], s)
                        for i in e.coeffs for s in sent[i] if s.recipient == j}
            e.shares[j] = tr.combined_share(m, j, e.coeffs[j], received, qualified)

    def register_codes(self, e: Election, count: int) -> list[str]:
        eid = e.eid
        salt = hash_bytes("web-test-salt", eid)
        codes = [code_from_seed(eid, i) for i in range(count)]
        self.run(self.keys.registrar, [CommitCodes(eid, salt, tuple(code_public_key(eid, salt, c) for c in codes))])
        return [format_code(c) for c in codes]

    def register_key_files(self, e: Election, out: Path, count: int) -> list[Path]:
        voters = [KeyPair.generate() for _ in range(count)]
        entries = tuple(KeyEntry(k.ed25519_public, hash_bytes("web-test-card", e.eid + bytes([i])))
                        for i, k in enumerate(voters))
        self.run(self.keys.registrar, [RegisterKeys(e.eid, entries)])
        paths = []
        for i, k in enumerate(voters):
            p = out / f"voter-{i}.key"
            p.write_text(dump_key_file(k, KEY_PASSWORD.encode()))
            paths.append(p)
        return paths

    def open(self, e: Election) -> None:
        self.run(self.keys.admin, [OpenElection(e.eid)])

    def finish(self, e: Election) -> tally_crypto.TallyResult:
        """Close, decrypt with trustees 1 and 3, publish; the published result."""
        m, eid = e.manifest, e.eid
        self.run(self.keys.admin, [CloseElection(eid)])
        tally = self.chain.state.tally(eid)
        assert tally is not None
        qualified = [e.commitments[i] for i in sorted(e.commitments)]
        shares = [tally_crypto.make_decryption_share(m, tally, j, e.shares[j]) for j in (1, 3)]
        self.chain.run([self.keys.sign(self.trustees[s.trustee - 1], PostDecryptionShare(eid, s)) for s in shares])
        result = tally_crypto.decrypt_tally(m, qualified, tally, shares)
        self.run(self.keys.admin, [PublishResult(eid, result)])
        published = self.chain.state.result(eid)
        assert published is not None
        return published
