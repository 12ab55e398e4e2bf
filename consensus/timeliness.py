"""Proposer-based timestamps: the timeliness rule for a new proposal.

Block time is chosen by the primary (the header's ``time_ms``), and it drives the
elections' windows: ballots are accepted until the first block whose time is at or
after an election's end time. Validity (``App.validate``) only requires block time to
increase, which is deterministic but lets a Byzantine primary pick any later time.
So, as CometBFT's PBTS does ("Proposer-Based Timestamps", the ``timely`` predicate),
a replica *prepares* a new proposal only if, at the local time it received it, the
block time lies within

    [received - precision - msg_delay,  received + precision]

where ``precision`` bounds the difference between honest clocks and ``msg_delay``
the time an honest primary's proposal takes to arrive (genesis ``params``
``time_precision_ms`` and ``time_msg_delay_ms``). An untimely proposal is not
prepared, so the view changes. The rule is separate from validity: it depends on
when the message arrived, so it is never cached with the validity verdict, and it
does not apply to a block that the new primary re-proposes in NEW-VIEW because 2f+1
prepared it in an earlier view (it was timely for f+1 honest replicas then), nor to
blocks fetched with a commit certificate (already decided).

What it guarantees, with honest clocks within ``precision`` of real time: a committed
block was found timely by at least f+1 honest replicas, each of which received it at
or after it was made, so its time is at least (the real time it was made) - precision
- msg_delay - precision. A ballot submitted after ``end + 2*precision + msg_delay``
cannot be in a block timed before ``end``; and a block time is never more than
``2*precision`` ahead of real time, so polls cannot be closed earlier than that.
"""

from __future__ import annotations


def is_timely(block_time_ms: int, received_ms: int, precision_ms: int, msg_delay_ms: int) -> bool:
    """PBTS ``timely``: ``received - precision - msg_delay <= block_time <= received + precision``."""
    return received_ms - precision_ms - msg_delay_ms <= block_time_ms <= received_ms + precision_ms
