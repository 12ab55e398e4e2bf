"""The chain as the registrar sees it: one node's client API (JSON over HTTP).

The registrar holds no chain state of its own; it reads the chain id and the manifests
of the elections it serves (checked against their election id, so a node cannot swap
one), and posts its signed ``RegisterKeys`` transactions with ``?wait=commit`` so every
voter's answer carries the registration's tracking code.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from ballot_tx.codec import decode, encode
from ballot_tx.eligibility.registered_key import RegisterKeys
from ballot_tx.errors import ErrorCode, TxError
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import Manifest, election_id
from ballot_tx.tx import CLIENT_TX_LIFETIME_MS, sign_tx
from node.registrar.errors import RegistrarError


class ChainLink:
    """Reads elections and posts signed registrations through a node's JSON API."""

    def __init__(self, url: str, keys: KeyPair, session: aiohttp.ClientSession,
                 commit_wait_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.keys = keys
        self.session = session
        self.commit_wait_s = commit_wait_s
        self._chain_id: bytes | None = None
        self._manifests: dict[bytes, Manifest] = {}

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        try:
            async with self.session.request(
                method, self.url + path, json=body,
                timeout=aiohttp.ClientTimeout(total=self.commit_wait_s + 10),
            ) as resp:
                try:
                    doc = await resp.json(content_type=None)
                except ValueError:
                    doc = None
                if resp.status >= 400:
                    code = doc.get("error") if isinstance(doc, dict) else None
                    try:
                        err = ErrorCode(str(code))
                    except ValueError:
                        err = ErrorCode.NODE_UNAVAILABLE
                    msg = doc.get("message") if isinstance(doc, dict) else None
                    raise TxError(err, str(msg or f"the node answered HTTP {resp.status}"))
                return doc
        except (aiohttp.ClientError, TimeoutError) as e:
            raise RegistrarError(ErrorCode.NODE_UNAVAILABLE,
                                 f"the registrar cannot reach its node ({type(e).__name__})") from None

    async def chain_id(self) -> bytes:
        if self._chain_id is None:
            doc = await self._json("GET", "/v1/status")
            self._chain_id = bytes.fromhex(str(doc["chain_id"]))
        return self._chain_id

    async def manifest(self, eid: bytes) -> Manifest:
        m = self._manifests.get(eid)
        if m is None:
            try:
                doc = await self._json("GET", f"/v1/elections/{eid.hex()}")
            except TxError as e:
                if e.code == ErrorCode.API_NOT_FOUND:
                    raise RegistrarError(ErrorCode.TX_UNKNOWN_ELECTION,
                                         f"no election {eid.hex()} on the chain") from None
                raise
            m = decode(Manifest, bytes.fromhex(doc["manifest_bytes"]))
            if election_id(m) != eid:
                raise RegistrarError(ErrorCode.NODE_UNAVAILABLE,
                                     "the node served a manifest that does not hash to the election id")
            self._manifests[eid] = m
        return m

    async def register(self, body: RegisterKeys) -> dict[str, Any]:
        tx = sign_tx(self.keys, await self.chain_id(), body,
                     int(time.time() * 1000) + CLIENT_TX_LIFETIME_MS)
        doc = await self._json("POST", "/v1/txs?wait=commit", {"tx": encode(tx).hex()})
        return {"tracking_code": doc["tracking_code"], "height": doc.get("height")}
