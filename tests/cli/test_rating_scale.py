"""What a rating's 0 and 100 mean, where officials and auditors read a result: the
``election result`` table (both languages), its ``--json`` and ``election show``'s
manifest lines; the manifest's labels, or the defaults when it has none."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from ballot_tx.crypto.decryption import TallyResult
from ballot_tx.manifest import Label, Manifest, election_id
from cli.election_cmd import result_json, show_result
from cli.i18n import language
from cli.manifest_file import load_manifest

EXAMPLE = Path(__file__).parents[2] / "examples" / "election.toml"


def _result(m: Manifest) -> TallyResult:
    # 3 ballots: project / parks counts, then 11 levels per rated item
    rating = (0,) * 10 + (3,) + (1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0)
    return TallyResult(election_id(m), bytes(32), 3, (1, 2), ((3, 0, 0), (2, 1, 0), rating))


def _table(m: Manifest, lang: str) -> str:
    import click

    runner = CliRunner()

    @click.command()
    def show() -> None:
        show_result(m, _result(m), lang)

    r = runner.invoke(show)
    assert r.exit_code == 0, r.output
    assert language() == "en", "the table's language outlived it"
    return r.output


@pytest.mark.parametrize("labelled", [True, False])
def test_result_says_what_the_scale_means(labelled: bool) -> None:
    m = load_manifest(EXAMPLE, nonce=bytes(32))
    if not labelled:
        rating = replace(m.contests[2], scale_low=None, scale_high=None)
        m = replace(m, contests=(*m.contests[:2], rating))
    en_ends, ja_ends = ((("Not achieved at all", "Fully achieved"), ("まったく達成されていない", "十分に達成された"))
                        if labelled else (("not at all", "very highly"), ("まったく評価しない", "とても高く評価する")))
    en, ja = _table(m, "en"), _table(m, "ja")
    assert f"0 means “{en_ends[0]}”, 100 means “{en_ends[1]}”." in en, en
    assert f"0は「{ja_ends[0]}」、100は「{ja_ends[1]}」です。" in ja and "《" not in ja, ja
    doc = result_json(m, _result(m))["contests"][2]
    assert (doc["scale"]["low"]["en"], doc["scale"]["high"]["en"]) == en_ends
    assert "scale" not in result_json(m, _result(m))["contests"][0]


def test_a_label_reading_is_kept_in_json_and_dropped_in_the_table() -> None:
    m = load_manifest(EXAMPLE, nonce=bytes(32))
    rating = replace(m.contests[2], scale_high=Label("｜十分《じゅうぶん》", "Fully"))
    m = replace(m, contests=(*m.contests[:2], rating))
    assert result_json(m, _result(m))["contests"][2]["scale"]["high"]["ja"] == "｜十分《じゅうぶん》"
    assert "100は「十分」です。" in _table(m, "ja")
