"""The human view of a decrypted tally: per contest, its counts, or for a rating its
histograms and means.

Separate from the decryption (``decryption.py``) because it is presentation, not
cryptography: it reads a verified ``TallyResult`` and the manifest, proves nothing and
is never on the wire; the CLI prints and plots it. A rating item's slots are its 11
one-hot levels (docs/crypto.md, "Ballots"), so its counts are its histogram
(docs/crypto.md, "Summary").
"""

from __future__ import annotations

from dataclasses import dataclass

from ballot_tx.crypto.ballot import LEVELS
from ballot_tx.crypto.decryption import TallyResult
from ballot_tx.manifest import RATING_LEVELS, Manifest


@dataclass(frozen=True)
class ContestResult:
    """A human view of one contest: ``counts`` per option (single/multiple) or, for a
    rating, ``histograms[i][l]`` = voters who rated item ``i`` at ``10*l``, and the mean."""

    contest_id: str
    kind: str
    option_ids: tuple[str, ...]
    counts: tuple[int, ...]
    histograms: tuple[tuple[int, ...], ...]
    means: tuple[float | None, ...]


def summarize(manifest: Manifest, result: TallyResult) -> list[ContestResult]:
    out = []
    for c, row in zip(manifest.contests, result.counts, strict=True):
        ids = tuple(o.id for o in c.options)
        if c.kind != "rating":
            out.append(ContestResult(c.id, c.kind, ids, tuple(row), (), ()))
            continue
        hists = tuple(tuple(row[LEVELS * i : LEVELS * (i + 1)]) for i in range(len(ids)))
        means = tuple(
            (sum(n * v for n, v in zip(h, RATING_LEVELS, strict=True)) / sum(h)) if sum(h) else None
            for h in hists
        )
        out.append(ContestResult(c.id, c.kind, ids, (), hists, means))
    return out
