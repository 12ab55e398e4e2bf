"""The audit's recount is independent of the state's running tally.

The replay keeps its own sum of every voter's last counted ballot while it feeds the
blocks (reusing the decoded points the block's application just made). A running tally
that all validators computed the same wrong way passes every state-root check, so only
this recount catches it: here every node "forgets" to take a re-voter's replaced ballot
out of the tally, the chain is built and audited with that same state code, and the
audit must refuse it with AUDIT_RESULT_MISMATCH.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ballot_tx.state.voting as voting_rules
from ballot_tx.crypto import elgamal
from ballot_tx.crypto.ballot import EncryptedBallot, EncryptedContest
from ballot_tx.errors import AuditError, ErrorCode
from ballot_tx.manifest import Manifest, contest_width
from harness.localchain import LocalChain
from harness.scenario import run_election
from node.audit import audit_data_dir
from node.store import Store
from tests.ballot_tx.state.helpers import ROLES, VALIDATORS, make_genesis


def build(path: Path) -> None:
    g = make_genesis()
    store = Store(path, g)
    try:
        chain = LocalChain(g, VALIDATORS, [store])
        out = run_election(chain, ROLES, voters=12, revoters=3, decrypting=(1, 2))
        assert out.revotes == 3
    finally:
        store.close()


def test_honest_chain_recount_agrees(tmp_path: Path) -> None:
    build(tmp_path / "data")
    report = audit_data_dir(tmp_path / "data")
    (e,) = report.elections
    assert e.voters_voted == 12 and e.ballots_cast == 12 + 3 + 0 and e.result is not None


def test_running_tally_that_keeps_replaced_ballots_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nothing_replaced(m: Manifest, eid: bytes, data: bytes) -> EncryptedBallot:
        # the bug: the replaced ballot is read back as Enc(0) everywhere, so the state
        # subtracts nothing (its count of ballots still drops by one)
        return EncryptedBallot(
            eid,
            tuple(EncryptedContest((elgamal.ZERO,) * contest_width(c), (), ()) for c in m.contests),
        )

    monkeypatch.setattr(voting_rules, "ballot_from_ciphertexts", nothing_replaced)
    build(tmp_path / "data")
    with pytest.raises(AuditError) as e:
        audit_data_dir(tmp_path / "data")  # the same (wrong) state code replays every root
    assert e.value.code is ErrorCode.AUDIT_RESULT_MISMATCH
    assert "recomputed from 12 counted ballots differs" in e.value.message
