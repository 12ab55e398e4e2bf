"""The audit's recount is independent of the state's running tally.

While it feeds the blocks the replay sums every cast ballot (A) and every ballot that
stops counting (S), by additions only, reusing the points the block's application just
decoded; the state's tally T must satisfy T + S = A. A running tally that all
validators computed the same wrong way passes every state-root check, so only this
recount catches it: here every node "forgets" to take a re-voter's replaced ballot
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


def test_running_tally_that_skips_a_ballot_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state that leaves one ballot out of the tally (every node alike, and the audit's
    replay too, so every root agrees): the recount's cast sum has it, so tally + stopped
    != cast."""
    from ballot_tx.state.context import ExecutionContext
    from ballot_tx.state.records import ciphertext_bytes

    counted = ExecutionContext.count_ballot
    left_out: list[bytes] = []

    def skips_the_first_ballot(self: ExecutionContext, eid: bytes, ballot: EncryptedBallot) -> None:
        cts = ciphertext_bytes(ballot)
        if not left_out:
            left_out.append(cts)
        if cts != left_out[0]:
            counted(self, eid, ballot)

    monkeypatch.setattr(ExecutionContext, "count_ballot", skips_the_first_ballot)
    build(tmp_path / "data")
    with pytest.raises(AuditError) as e:
        audit_data_dir(tmp_path / "data")
    assert e.value.code is ErrorCode.AUDIT_RESULT_MISMATCH
    assert "counted ballots differs from the chain's" in e.value.message


def test_recount_and_the_specifications_sum_agree_ballot_for_ballot() -> None:
    """The recount's equation is the specification's sum rearranged (docs/spec/verify.md
    step 8): on a chain with re-votes and cancellations, the sum of every counted
    ballot from the empty tally equals the state's tally, and tally + stopped = cast."""
    from ballot_tx.crypto import tally as tally_crypto
    from ballot_tx.replay import replay
    from ballot_tx.state.voting import last_ballots
    from ballot_tx.tx import CancelInternetVote, CastBallot, decode_tx

    g = make_genesis()
    chain = LocalChain(g, VALIDATORS, [])
    run_election(chain, ROLES, voters=10, revoters=4, decrypting=(1, 2))
    r, report = replay(g, ((b, None) for b in chain.blocks), None)
    (e,) = report.elections
    casts, cancelled = [], set()
    for b in chain.blocks:
        for raw in b.txs:
            body = decode_tx(raw).body
            if isinstance(body, CastBallot) and body.election_id == e.election_id:
                casts.append((decode_tx(raw).signer, body.ballot))
            elif isinstance(body, CancelInternetVote) and body.election_id == e.election_id:
                cancelled.update(body.voter_keys)
    spec_sum = tally_crypto.aggregate(e.manifest, last_ballots(casts, cancelled).values())
    state_tally = r.state.tally(e.election_id)
    assert state_tally is not None and state_tally == spec_sum and spec_sum.ballots == 10
    recount = r.recounts[e.election_id]
    assert recount.cast.tally().ballots == 14 and recount.stopped.tally().ballots == 4
    assert recount.agrees_with(spec_sum)
    assert not recount.agrees_with(tally_crypto.aggregate(e.manifest, [b for _, b in casts][:-1]))
