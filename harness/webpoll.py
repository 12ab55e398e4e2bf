"""A poll for people to vote in with a browser, on a running network.

Used by ``ballotchain demo --web`` (a person votes at the printed ``/vote/`` address with
the printed codes or key file) and by the browser test (``tests/web``). Officials,
trustees and the registrar act through a chain object (``harness.netchain.NetworkChain``:
every transaction posted to the validators' API and committed), exactly as in the demo
election (``harness.scenario``).

The poll has a single choice with pictures (their SHA-256 in the manifest, served as
``data:`` URIs so no web server is needed), a multiple choice (1 to 2), and the mayor's
pledges rated 0..100, with labels in Japanese and English.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ballot_tx.codec import hash_bytes
from ballot_tx.crypto import decryption
from ballot_tx.crypto import tally as tally_crypto
from ballot_tx.eligibility.city_login import LoginProvider
from ballot_tx.eligibility.one_time_code import (
    CommitCodes,
    code_from_seed,
    code_public_key,
    format_code,
)
from ballot_tx.eligibility.registered_key import KeyEntry, RegisterKeys
from ballot_tx.keys import KeyPair, dump_key_file
from ballot_tx.manifest import Contest, Image, Label, Manifest, Option, TrusteeInfo, election_id
from ballot_tx.state.records import ElectionStatus
from ballot_tx.tx import (
    CLIENT_TX_LIFETIME_MS,
    CloseElection,
    CreateElection,
    OpenElection,
    PostDecryptionShare,
    PublishResult,
    Tx,
    TxBody,
    sign_tx,
)
from harness.ceremony import HonestCeremony, honest_ceremony

#: The identity provider a demo ``city-login`` election names (never contacted).
DEMO_PROVIDER = LoginProvider("https://login.tsukuba.example", "ballotchain-registrar")


class ChainState(Protocol):
    """The tip state a poll reads: an election's status, its encrypted tally, its result."""

    def election(self, eid: bytes) -> ElectionStatus | None: ...

    def tally(self, eid: bytes) -> tally_crypto.EncryptedTally | None: ...

    def result(self, eid: bytes) -> decryption.TallyResult | None: ...


class DrivenChain(Protocol):
    """A chain the harness drives (``LocalChain`` in process, ``NetChain`` over nodes):
    ``run`` commits the transactions before it returns their hashes."""

    chain_id: bytes

    @property
    def state(self) -> ChainState: ...

    def run(self, txs: list[Tx]) -> list[bytes]: ...


def svg(color: str, shape: str) -> bytes:
    body = {
        "circle": f'<circle cx="32" cy="32" r="26" fill="{color}"/>',
        "square": f'<rect x="8" y="8" width="48" height="48" fill="{color}"/>',
        "triangle": f'<polygon points="32,6 58,56 6,56" fill="{color}"/>',
    }[shape]
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">{body}</svg>'.encode()


def image(data: bytes, wrong: bool = False) -> Image:
    """An option picture: its SHA-256 (deliberately wrong with ``wrong``) and a data: URI."""
    digest = hashlib.sha256(data + (b"x" if wrong else b"")).digest()
    return Image(digest, "data:image/svg+xml;base64," + base64.b64encode(data).decode())


#: What 0 and 100 mean on the pledge rating when a poll says it (``scale=True``); one
#: with a reading (ruby), so the page and speech show and say it.
SCALE_LOW = Label("まったく支持しない", "Do not support at all")
SCALE_HIGH = Label("全面的《ぜんめんてき》に支持する", "Fully support")


def poll_manifest(name: str, trustees: list[KeyPair], eligibility: str, now_ms: int,
                  images: bool = True, wrong_image: bool = False, hours: int = 24,
                  scale: bool = False, login_provider: LoginProvider | None = None) -> Manifest:
    pics = [svg("#0b6e4f", "circle"), svg("#8a3b12", "square"), svg("#3a4fa0", "triangle")]
    park = (
        Option("doho-park", Label("｜洞峰公園《どうほうこうえん》", "Doho Park"), image(pics[0], wrong_image) if images else None),
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
            3, 3, SCALE_LOW if scale else None, SCALE_HIGH if scale else None,
        ),
    )
    return Manifest(
        version=1, name=name, title=Label(f"つくば市 住民投票 ({name})", f"Tsukuba city poll ({name})"),
        contests=contests, eligibility=eligibility, start_ms=now_ms - 60_000,
        end_ms=now_ms + hours * 3_600_000, revoting=eligibility == "registered-key",
        trustees=tuple(TrusteeInfo(f"trustee-{i + 1}", k.ed25519_public, k.x25519_public)
                       for i, k in enumerate(trustees)),
        threshold=2, nonce=hash_bytes("web-poll-nonce", name.encode()),
        login_provider=(login_provider or DEMO_PROVIDER) if eligibility == "city-login" else None,
    )


@dataclass
class Poll:
    """One election run for browser voters, with what its trustees hold."""

    manifest: Manifest
    ceremony: HonestCeremony | None = None

    @property
    def eid(self) -> bytes:
        return election_id(self.manifest)


class PollRunner:
    def __init__(self, chain: DrivenChain, admin: KeyPair, registrar: KeyPair, trustees: list[KeyPair]) -> None:
        self.chain = chain
        self.admin = admin
        self.registrar = registrar
        self.trustees = trustees

    def _settle(self, timeout: float = 30.0) -> None:
        """Wait until every validator has applied what was committed so far.

        A transaction is admitted against the receiving validator's state: right after a
        phase change (close, then decryption shares) a validator one block behind would
        refuse it (TX_WRONG_PHASE). ``NetworkChain`` exposes its validator URLs and the
        height it has seen committed; an in-process chain has nothing to wait for.
        """
        urls = getattr(self.chain, "urls", None)
        height = getattr(self.chain.state, "min_height", 0)
        if not urls or not height:
            return
        deadline = time.monotonic() + timeout
        for url in urls:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/v1/status", timeout=5) as r:  # noqa: S310 - node URLs from config
                        if int(json.loads(r.read())["height"]) >= height:
                            break
                except (OSError, ValueError, KeyError):
                    pass
                if time.monotonic() > deadline:
                    return  # let the transaction itself report what is wrong
                time.sleep(0.05)

    def _commit(self, txs: list[Tx]) -> list[bytes]:
        self._settle()
        return self.chain.run(txs)

    def _sign(self, keys: KeyPair, body: TxBody) -> Tx:
        return sign_tx(keys, self.chain.chain_id, body, int(time.time() * 1000) + CLIENT_TX_LIFETIME_MS)

    def run(self, signer: KeyPair, bodies: list[TxBody]) -> list[bytes]:
        return self._commit([self._sign(signer, b) for b in bodies])

    def create(self, name: str, eligibility: str, images: bool = True, wrong_image: bool = False,
               scale: bool = False, login_provider: LoginProvider | None = None) -> Poll:
        m = poll_manifest(name, self.trustees, eligibility, int(time.time() * 1000), images, wrong_image,
                          scale=scale, login_provider=login_provider)
        self.run(self.admin, [CreateElection(m)])
        return Poll(m)

    def ceremony(self, p: Poll) -> None:
        """Every trustee commits, sends its shares, and combines what it received."""
        p.ceremony = honest_ceremony(p.manifest, self.trustees)
        for _step, bodies in p.ceremony.postings():
            self._commit([self._sign(self.trustees[i - 1], body) for i, body in sorted(bodies.items())])

    def register_codes(self, p: Poll, count: int) -> list[str]:
        """Commit ``count`` one-time codes (deterministic: tests and demos only); printable codes."""
        eid = p.eid
        salt = hash_bytes("web-poll-salt", eid)
        codes = [code_from_seed(eid, i) for i in range(count)]
        self.run(self.registrar, [CommitCodes(eid, salt, tuple(code_public_key(eid, salt, c) for c in codes))])
        return [format_code(c) for c in codes]

    def register_key_files(self, p: Poll, out: Path, count: int, password: bytes) -> list[Path]:
        """Register ``count`` fresh voter keys; write each as a password-protected key file."""
        voters = [KeyPair.generate() for _ in range(count)]
        entries = tuple(KeyEntry(k.ed25519_public, hash_bytes("web-poll-card", p.eid + bytes([i])))
                        for i, k in enumerate(voters))
        self.run(self.registrar, [RegisterKeys(p.eid, entries)])
        paths = []
        for i, k in enumerate(voters):
            path = out / f"voter-{i}.key"
            path.write_text(dump_key_file(k, password))
            path.chmod(0o600)
            paths.append(path)
        return paths

    def open(self, p: Poll) -> None:
        self.run(self.admin, [OpenElection(p.eid)])

    def finish(self, p: Poll) -> decryption.TallyResult:
        """Close, decrypt with trustees 1 and 3, publish; returns the published result."""
        m, eid = p.manifest, p.eid
        self.run(self.admin, [CloseElection(eid)])
        tally = self.chain.state.tally(eid)
        assert tally is not None
        assert p.ceremony is not None, "run the ceremony first"
        shares = p.ceremony.decryption_shares(tally, (1, 3))
        self._commit([self._sign(self.trustees[s.trustee - 1], PostDecryptionShare(eid, s)) for s in shares])
        result = decryption.decrypt_tally(m, p.ceremony.qualified, tally, shares)
        self.run(self.admin, [PublishResult(eid, result)])
        published = self.chain.state.result(eid)
        assert published is not None
        return published
