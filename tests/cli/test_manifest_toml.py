"""election.toml: parsing into a Manifest, and errors that name the line and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given

from ballot_tx.errors import ErrorCode, ManifestError
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import Manifest
from ballot_tx.yomi import plain
from cli.manifest_toml import key_lines, parse_manifest, to_toml
from tests.ballot_tx.crypto.helpers import manifests

EXAMPLE = (Path(__file__).parents[2] / "examples" / "election.toml").read_text()
NONCE = bytes(range(32))
TRUSTEES = {f"trustees/{n}.pub": KeyPair.from_seed(bytes([i + 1]) * 32)
            for i, n in enumerate(["commission", "university", "citizens"])}


def read_file(path: str) -> bytes:
    if path in TRUSTEES:
        k = TRUSTEES[path]
        return json.dumps({"ed25519_public": k.ed25519_public.hex(),
                           "x25519_public": k.x25519_public.hex()}).encode()
    if path == "img/a.png":
        return b"\x89PNG fake image"
    raise FileNotFoundError(2, "No such file or directory", path)


def parse(text: str) -> Manifest:
    return parse_manifest(text, NONCE, read_file)


def line_no(text: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]


def test_example_parses() -> None:
    m = parse(EXAMPLE)
    assert m.name == "tsukuba-2026" and m.eligibility == "registered-key" and m.revoting
    assert [c.kind for c in m.contests] == ["single", "multiple", "rating"]
    single, multiple, rating = m.contests
    assert (single.min_selections, single.max_selections) == (1, 1)
    assert (multiple.min_selections, multiple.max_selections) == (1, 2)
    assert (rating.min_selections, rating.max_selections) == (2, 2)
    assert multiple.options[0].label.ja == "｜洞峰公園《どうほうこうえん》"  # yomi rides as ruby
    assert plain(multiple.options[0].label.ja) == "洞峰公園"
    assert m.start_ms == 1767193200000  # 2026-01-01T00:00+09:00
    assert m.trustees[1].ed25519_public == TRUSTEES["trustees/university.pub"].ed25519_public
    assert m.threshold == 2 and m.nonce == NONCE
    assert (m.max_ballots_per_voter, m.max_spoils_per_voter) == (20, 10)  # the defaults


def test_per_voter_limits() -> None:
    text = EXAMPLE.replace("threshold = 2 ", "max_spoils_per_voter = 0\nmax_ballots_per_voter = 3\nthreshold = 2 ", 1)
    m = parse(text)
    assert (m.max_spoils_per_voter, m.max_ballots_per_voter) == (0, 3)
    bad = EXAMPLE.replace("threshold = 2 ", "max_ballots_per_voter = 0\nthreshold = 2 ", 1)
    e = error(bad)
    assert e.code == ErrorCode.MANIFEST_BAD_FIELD
    assert f"line {line_no(bad, 'max_ballots_per_voter')}, max_ballots_per_voter:" in e.message, e.message
    e = error(EXAMPLE.replace("threshold = 2 ", "max_spoils_per_voter = 70000\nthreshold = 2 ", 1))
    assert e.code == ErrorCode.MANIFEST_BAD_FIELD and "max_spoils_per_voter" in e.message


def error(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as ei:
        parse(text)
    return ei.value


# (what to replace, with what, expected code, field named, the line's marker in the new text)
CASES = [
    ('label = { ja = "赤塚公園", en = "Akatsuka Park" }', 'label = { ja = " ", en = "Akatsuka Park" }',
     ErrorCode.MANIFEST_BAD_FIELD, "contests[1].options[1].label.ja", 'ja = " "'),
    ('id = "akatsuka"', 'id = "doho"', ErrorCode.MANIFEST_DUPLICATE_ID,
     "contests[1].options[1].id", 'id = "doho"#2'),
    ('kind = "multiple"', 'kind = "ranked"', ErrorCode.MANIFEST_BAD_CONTEST,
     "contests[1].kind", 'kind = "ranked"'),
    ("max = 2", "max = 7", ErrorCode.MANIFEST_BAD_CONTEST, "contests[1].max", "max = 7"),
    ("threshold = 2 ", "threshold = 4 ", ErrorCode.MANIFEST_BAD_TRUSTEES, "threshold",
     "threshold = 4"),
    ("end = 2030-12-31T20:00:00+09:00", "end = 2025-12-31T20:00:00+09:00",
     ErrorCode.MANIFEST_BAD_TIMES, "end", "end = 2025"),
    ("start = 2026-01-01T00:00:00+09:00", "start = 2026-01-01T00:00:00",
     ErrorCode.MANIFEST_BAD_TIMES, "start", "start = 2026"),
    ('eligibility = "registered-key"', 'eligibility = "facebook"', ErrorCode.MANIFEST_BAD_FIELD,
     "eligibility", 'eligibility = "facebook"'),
    ('id = "pledges"\n', 'id = "pledges"\nmax = 1\n', ErrorCode.MANIFEST_BAD_CONTEST,
     "contests[2].max", "max = 1"),
    ('id = "health"\n', 'id = "health"\ncolour = "red"\n', ErrorCode.MANIFEST_BAD_FIELD,
     "contests[0].options[1].colour", "colour"),
    ('name = "Citizens\' group"', 'name = 5', ErrorCode.MANIFEST_BAD_FIELD,
     "trustees[2].name", "name = 5"),
    ('public_key = "trustees/citizens.pub"', 'public_key = "trustees/nobody.pub"',
     ErrorCode.MANIFEST_BAD_FIELD, "trustees[2].public_key", "nobody.pub"),
    ('public_key = "trustees/citizens.pub"', 'public_key = "trustees/university.pub"',
     ErrorCode.MANIFEST_DUPLICATE_ID, "trustees[2].ed25519_public", "university.pub#2"),
    ('id = "drone"\n', 'id = "drone"\nimage = { uri = "https://x.jp/a.png", file = "img/a.png", '
     'sha256 = "00" }\n', ErrorCode.MANIFEST_BAD_FIELD, "contests[0].options[2].image", "image ="),
]


@pytest.mark.parametrize("old,new,code,field,marker", CASES)
def test_errors_name_line_and_field(old: str, new: str, code: ErrorCode, field: str,
                                    marker: str) -> None:
    assert old in EXAMPLE
    text = EXAMPLE.replace(old, new, 1)
    e = error(text)
    needle, _, nth = marker.partition("#")
    want = line_no(text, needle, int(nth or 1))
    assert e.code == code, e.message
    assert f"line {want}, {field}:" in e.message, e.message


def test_missing_field_and_syntax_error() -> None:
    e = error(EXAMPLE.replace("threshold = 2 ", "# no threshold "))
    assert e.code == ErrorCode.MANIFEST_BAD_FIELD and "threshold: is missing" in e.message
    e = error(EXAMPLE.replace('name = "tsukuba-2026"', 'name = "tsukuba-2026'))
    assert e.code == ErrorCode.MANIFEST_TOML_SYNTAX and "line 3" in e.message


def test_image_file_is_hashed() -> None:
    text = EXAMPLE.replace('id = "drone"\n', 'id = "drone"\nimage = { uri = "https://x.jp/a.png",'
                           ' file = "img/a.png" }\n')
    import hashlib

    img = parse(text).contests[0].options[2].image
    assert img is not None and img.sha256 == hashlib.sha256(b"\x89PNG fake image").digest()


@given(manifests())
def test_to_toml_roundtrips_and_every_key_is_found_on_its_line(m: Manifest) -> None:
    text = to_toml(m)
    assert parse_manifest(text, bytes(32)) == m
    lines = text.splitlines()
    for path, n in key_lines(text).items():
        last = re.split(r"[.\[]", path.rsplit(".", 1)[-1])[0]
        assert lines[n - 1].lstrip("[").startswith(last) or f".{last}" in lines[n - 1], (path, n)


def test_yomi_must_be_kana_and_is_written_back() -> None:
    bad = EXAMPLE.replace('yomi = "どうほうこうえん"', 'yomi = "doho"')
    e = error(bad)
    assert e.code == ErrorCode.MANIFEST_BAD_FIELD and "contests[1].options[0].label.yomi" in e.message
    assert 'label = { ja = "洞峰公園", yomi = "どうほうこうえん", en = "Doho Park" }' in to_toml(parse(EXAMPLE))


def test_scale_labels_of_a_rating() -> None:
    rating = parse(EXAMPLE).contests[2]
    assert rating.scale_low is not None and rating.scale_low.en == "Not achieved at all"
    assert rating.scale_high is not None and rating.scale_high.ja == "｜十分に達成された《じゅうぶんにたっせいされた》"
    assert 'scale_high = { ja = "十分に達成された", yomi = "じゅうぶんにたっせいされた", en = "Fully achieved" }' \
        in to_toml(parse(EXAMPLE))
    # without them: no labels on the wire (the page, CLI and speech say the defaults)
    silent = "\n".join(x for x in EXAMPLE.splitlines() if not x.startswith("scale_"))
    assert (parse(silent).contests[2].scale_low, parse(silent).contests[2].scale_high) == (None, None)
    # on a single-choice contest: refused, naming the line and the field
    on_single = EXAMPLE.replace('kind = "single"\n', 'kind = "single"\nscale_low = { ja = "低", en = "Low" }\n', 1)
    e = error(on_single)
    assert e.code == ErrorCode.MANIFEST_BAD_CONTEST, e.message
    assert f"line {line_no(on_single, 'scale_low')}, contests[0].scale_low:" in e.message, e.message
    # a scale end must be a label table, with a kana reading if any
    e = error(EXAMPLE.replace('scale_low = { ja = "まったく達成されていない", en = "Not achieved at all" }',
                              'scale_low = "Not at all"'))
    assert e.code == ErrorCode.MANIFEST_BAD_FIELD and "contests[2].scale_low: must be a table" in e.message
    e = error(EXAMPLE.replace('yomi = "じゅうぶんにたっせいされた"', 'yomi = "jubun"'))
    assert e.code == ErrorCode.MANIFEST_BAD_FIELD and "contests[2].scale_high.yomi" in e.message
    e = error(EXAMPLE.replace('en = "Fully achieved"', 'en = ""'))
    assert e.code == ErrorCode.MANIFEST_BAD_FIELD and "contests[2].scale_high.en" in e.message
