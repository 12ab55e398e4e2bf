"""Commit certificates verify from genesis alone; forged, short or duplicated ones fail."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.codec import decode, encode
from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.certificate import CommitCertificate, verify_certificate
from consensus.messages import VoteSig
from tests.consensus.helpers import quiet


@pytest.fixture(scope="module")
def committed():  # type: ignore[no-untyped-def]
    sim = quiet(4, target=3)
    return sim, [c for _, _, c in sim.instances[0].chain]


def test_certificates_of_a_run_verify_from_genesis(committed) -> None:  # type: ignore[no-untyped-def]
    sim, certs = committed
    assert len(certs) == 3
    for h, cert in enumerate(certs, start=1):
        assert cert.height == h and len(cert.sigs) == 3
        verify_certificate(sim.genesis, sim.chain_id, decode(CommitCertificate, encode(cert)))


def _bad(sim, cert) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConsensusError) as e:
        verify_certificate(sim.genesis, sim.chain_id, cert)
    assert e.value.code == ErrorCode.CONSENSUS_BAD_CERTIFICATE


def test_insufficient_duplicate_and_foreign_certificates_fail(committed) -> None:  # type: ignore[no-untyped-def]
    sim, certs = committed
    cert = certs[0]
    _bad(sim, replace(cert, sigs=cert.sigs[:2]))
    _bad(sim, replace(cert, sigs=cert.sigs[:2] + (cert.sigs[0],)))
    _bad(sim, replace(cert, sigs=cert.sigs[:2] + (VoteSig(9, cert.sigs[2].signature),)))
    _bad(sim, replace(cert, height=cert.height + 1))
    _bad(sim, replace(cert, view=cert.view + 1))
    _bad(sim, replace(cert, block_hash=certs[1].block_hash))
    with pytest.raises(ConsensusError):
        verify_certificate(sim.genesis, bytes(32), cert)  # another chain


@given(st.data())
def test_any_corrupted_signature_fails(committed, data) -> None:  # type: ignore[no-untyped-def]
    sim, certs = committed
    cert = data.draw(st.sampled_from(certs))
    i = data.draw(st.integers(0, len(cert.sigs) - 1))
    pos = data.draw(st.integers(0, 63))
    bit = data.draw(st.integers(0, 7))
    s = bytearray(cert.sigs[i].signature)
    s[pos] ^= 1 << bit
    sigs = list(cert.sigs)
    sigs[i] = VoteSig(sigs[i].validator, bytes(s))
    _bad(sim, replace(cert, sigs=tuple(sigs)))
