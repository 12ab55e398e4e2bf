"""VIEW-CHANGE / NEW-VIEW proofs (OSDI'99 §4.4): what is accepted, what is computed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ballot_tx.errors import ConsensusError, ErrorCode
from consensus.messages import NewView, NewViewEntry, PrePrepare, SignedViewChange, VoteSig
from consensus.viewchange import check_new_view, check_view_change, compute_new_view
from tests.consensus.fixtures import Net

NET = Net(4)
B1 = NET.block(1)
D1 = NET.digest(B1)
B1b = NET.block(1, nonce=9)
D1b = NET.digest(B1b)
D2 = NET.digest(NET.block(2, D1))


def primary(v: int) -> int:
    return v % NET.n


def bad_vc(vc, code=ErrorCode.CONSENSUS_BAD_VIEW_CHANGE) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConsensusError) as e:
        check_view_change(NET.verifier, vc, primary)
    assert e.value.code == code


def test_valid_view_change_with_prepared_proofs() -> None:
    vc = NET.view_change(3, prepared=(NET.prepared(1, 1, D1), NET.prepared(2, 2, D2)))
    check_view_change(NET.verifier, vc, primary)


def test_view_change_rejects_bad_proofs() -> None:
    p = NET.prepared(1, 1, D1)
    bad_vc(NET.view_change(1, prepared=(p,)))  # proof view not below the new view
    bad_vc(NET.view_change(3, prepared=(p, NET.prepared(2, 1, D1b))))  # two proofs for height 1
    bad_vc(NET.view_change(3, prepared=(replace(p, prepares=p.prepares[:1]),)))  # < 2f prepares
    bad_vc(NET.view_change(3, prepared=(replace(p, prepares=(p.prepares[0],) * 2),)))  # duplicate
    from_primary = VoteSig(1, NET.sign(1, PrePrepare(1, 1, D1)))
    bad_vc(NET.view_change(3, prepared=(replace(p, prepares=(p.prepares[0], from_primary)),)))
    bad_vc(NET.view_change(3, prepared=(replace(p, pre_prepare_sig=bytes(64)),)))
    bad_vc(NET.view_change(3, prepared=(replace(p, block_hash=D1b),)))  # signatures over D1
    cp = NET.checkpoint(2, D2, b"r" * 32)
    bad_vc(NET.view_change(3, cp=cp, prepared=(p,)))  # proof at/below the checkpoint
    bad_vc(NET.view_change(3, cp=replace(cp, sigs=cp.sigs[:2])))  # checkpoint without quorum
    bad_vc(NET.view_change(3, cp=replace(cp, state_root=b"s" * 32)))  # signatures over another root


def test_new_view_picks_highest_view_and_max_checkpoint() -> None:
    cp2 = NET.checkpoint(2, D2, b"r" * 32)
    low = NET.view_change(5, prepared=(NET.prepared(1, 1, D1),))
    high = NET.view_change(5, prepared=(NET.prepared(3, 1, D1b),))
    cp, o = compute_new_view([low, high, NET.view_change(5)])
    assert cp.height == 0 and o == ((1, D1b),)
    cp, o = compute_new_view([low, NET.view_change(5, cp=cp2)])
    assert cp == cp2 and o == ()  # min-s = 2: height 1 is below the new low water mark


def test_new_view_stops_at_first_gap() -> None:
    d3 = NET.digest(NET.block(3, D2))
    vcs = [NET.view_change(4, prepared=(NET.prepared(1, 1, D1), NET.prepared(2, 3, d3)))]
    assert compute_new_view(vcs)[1] == ((1, D1),)
    vcs.append(NET.view_change(4, prepared=(NET.prepared(2, 2, D2),)))
    assert compute_new_view(vcs)[1] == ((1, D1), (2, D2), (3, d3))


def _new_view(view: int, vcs, entries=None, signer=None):  # type: ignore[no-untyped-def]
    signed = tuple(SignedViewChange(i, vc, NET.sign(i, vc)) for i, vc in vcs)
    if entries is None:
        entries = compute_new_view(vc for _, vc in vcs)[1]
    p = signer if signer is not None else primary(view)
    o = tuple(NewViewEntry(h, d, NET.sign(p, PrePrepare(view, h, d))) for h, d in entries)
    return NewView(view, signed, o)


def test_check_new_view_accepts_exactly_the_computed_o() -> None:
    vcs = [(0, NET.view_change(5, prepared=(NET.prepared(1, 1, D1),))), (2, NET.view_change(5)),
           (3, NET.view_change(5))]
    cp, entries = check_new_view(NET.verifier, _new_view(5, vcs), primary)
    assert entries == ((1, D1),)

    def bad(nv) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(ConsensusError) as e:
            check_new_view(NET.verifier, nv, primary)
        assert e.value.code == ErrorCode.CONSENSUS_BAD_NEW_VIEW

    bad(_new_view(5, vcs, entries=()))  # drops the prepared block
    bad(_new_view(5, vcs, entries=((1, D1b),)))  # replaces it
    bad(_new_view(5, vcs[:2]))  # only 2 view changes
    bad(_new_view(5, vcs[:2] + [(0, vcs[0][1])]))  # duplicate sender
    bad(_new_view(5, vcs, signer=2))  # O signed by someone else than primary(5)
    bad(_new_view(5, vcs[:2] + [(3, NET.view_change(4))]))  # a view change for another view
    nv = _new_view(5, vcs)
    forged = replace(nv.view_changes[1], signature=bytes(64))
    bad(replace(nv, view_changes=(nv.view_changes[0], forged, nv.view_changes[2])))
