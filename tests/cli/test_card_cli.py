"""The ID-card path as people run it: card authority, voter, registrar (CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

ELECTION = "ab" * 32


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), input=input)
    return r.exit_code, r.output


@pytest.fixture()
def ca(tmp_path: Path) -> Path:
    code, out = run("card-authority", "new", "--out", str(tmp_path / "ca"))
    assert code == 0, out
    return tmp_path / "ca"


def issue(ca: Path, serial: int, *extra: str, input: str | None = None, name: str = "筑波 花子",
          born: str = "1990-04-01") -> Path:
    card = ca.parent / f"card{serial}.p12"
    code, out = run("card-authority", "issue", "--ca", str(ca), "--serial", str(serial),
                    "--name", name, "--birth-date", born, "--out", str(card), "--key-type", "ec",
                    *extra, input=input)
    assert code == 0, out
    assert card.stat().st_mode & 0o777 == 0o600
    return card


def request(tmp: Path, card: Path, name: str, *extra: str, input: str | None = None) -> Path:
    key = tmp / f"{name}.key"
    code, out = run("voter", "keygen", "--out", str(key), "--lang", "en")
    assert code == 0 and "Voter public key:" in out, out
    req = tmp / f"{name}.json"
    code, out = run("voter", "card-sign", "--card", str(card), "--key", str(key),
                    "--election", ELECTION, "--out", str(req), "--lang", "en", *extra, input=input)
    assert code == 0, out
    return req


def check(ca: Path, req: Path, registrar: Path, election: str = ELECTION) -> tuple[int, str]:
    return run("voters", "check-card", str(req), "--election", election,
               "--ca-cert", str(ca / "ca.pem"), "--crl", str(ca / "crl.pem"),
               "--key", str(registrar))


@pytest.fixture()
def registrar(tmp_path: Path) -> Path:
    code, _ = run("keys", "new", "--out", str(tmp_path / "registrar.key"))
    assert code == 0
    return tmp_path / "registrar.key"


def tag_of(out: str) -> str:
    return out.split("card tag:")[1].strip()


def test_card_registration_flow_and_revocation(tmp_path: Path, ca: Path, registrar: Path) -> None:
    card = issue(ca, 1)
    req1 = request(tmp_path, card, "v1")
    code, out = check(ca, req1, registrar)
    assert code == 0 and "card: valid" in out, out
    # Same card, another pseudonymous key: the same tag, so the chain refuses a second one.
    req2 = request(tmp_path, card, "v2")
    code, out2 = check(ca, req2, registrar)
    assert code == 0 and tag_of(out2) == tag_of(out)
    assert "筑波" not in out and "serial" not in out
    code, out = run("card-authority", "revoke", "1", "--ca", str(ca))
    assert code == 0 and "1 revoked" in out
    code, out = check(ca, req1, registrar)
    assert code == 1 and "[ELIGIBILITY_CARD_REVOKED]" in out
    code, out = run("card-authority", "revoke", "1", "--ca", str(ca))
    assert code == 1 and "already revoked" in out
    code, out = run("card-authority", "revoke", "99", "--ca", str(ca))
    assert code == 1 and "never issued" in out


def test_expired_and_wrong_ca_and_wrong_election(tmp_path: Path, ca: Path, registrar: Path) -> None:
    old = issue(ca, 2, "--not-before", "2020-01-01", "--not-after", "2021-01-01")
    code, out = check(ca, request(tmp_path, old, "old"), registrar)
    assert code == 1 and "[ELIGIBILITY_CARD_EXPIRED]" in out and "2021-01-01" in out
    code, out = run("card-authority", "new", "--out", str(tmp_path / "fake"))
    foreign = issue(tmp_path / "fake", 3)
    code, out = check(ca, request(tmp_path, foreign, "foreign"), registrar)
    assert code == 1 and "[ELIGIBILITY_WRONG_CA]" in out
    good = request(tmp_path, issue(ca, 4), "good")
    code, out = check(ca, good, registrar, election="cd" * 32)
    assert code == 1 and "[ELIGIBILITY_WRONG_ELECTION]" in out
    code, out = run("card-authority", "issue", "--ca", str(ca), "--serial", "4", "--name", "x",
                    "--birth-date", "1970-01-01", "--out", str(tmp_path / "dup.p12"))
    assert code == 1 and "already issued" in out


def test_card_pin_and_japanese_errors(tmp_path: Path, ca: Path, registrar: Path) -> None:
    card = issue(ca, 5, "--pin-stdin", "--auth-only", input="4321\n")
    key = tmp_path / "v.key"
    run("voter", "keygen", "--out", str(key))
    out_path = tmp_path / "r.json"
    args = ["voter", "card-sign", "--card", str(card), "--key", str(key), "--election", ELECTION,
            "--out", str(out_path), "--pin-stdin"]
    code, out = run(*args, "--lang", "ja", input="0000\n")
    assert code == 1 and "[ELIGIBILITY_MALFORMED]" in out and "エラー" in out
    code, out = run(*args, "--lang", "ja", input="4321\n")
    assert code == 0 and "登録申請を" in out
    code, out = check(ca, out_path, registrar)
    assert code == 1 and "[ELIGIBILITY_WRONG_KEY_USAGE]" in out
    code, out = run("voter", "card-sign", "--card", str(card), "--key", str(key),
                    "--election", "xyz", "--out", str(tmp_path / "q.json"), "--lang", "ja")
    assert code == 1 and "選挙IDは16進数64文字" in out


def test_reissued_card_is_the_same_person(tmp_path: Path, ca: Path, registrar: Path) -> None:
    """Renewal, loss or a move re-issues a card with a new serial: the tag stays the
    person's (name and date of birth), so the chain refuses the second registration."""
    first = issue(ca, 10, "--address", "つくば市吾妻1-1")
    code, out = check(ca, request(tmp_path, first, "first"), registrar)
    assert code == 0, out
    moved = issue(ca, 11, "--address", "つくば市竹園2-2", name="筑波　花子")  # full-width space
    code, out2 = check(ca, request(tmp_path, moved, "moved"), registrar)
    assert code == 0 and tag_of(out2) == tag_of(out)
    namesake = issue(ca, 12, born="1991-04-01")  # same name, another person
    code, out3 = check(ca, request(tmp_path, namesake, "namesake"), registrar)
    assert code == 0 and tag_of(out3) != tag_of(out)
    issued = (ca / "issued.json").read_text()
    assert '"birth_date": "1990-04-01"' in issued and '"birth_date": "1991-04-01"' in issued


def test_issue_needs_a_real_birth_date(tmp_path: Path, ca: Path) -> None:
    base = ["card-authority", "issue", "--ca", str(ca), "--serial", "20", "--name", "Taro",
            "--out", str(tmp_path / "c20.p12")]
    code, out = run(*base)
    assert code != 0 and "--birth-date" in out
    for bad in ("1990-02-30", "01/04/1990", "2999-01-01"):
        code, out = run(*base, "--birth-date", bad)
        assert code == 1 and "[USAGE]" in out and "--birth-date" in out, out
    code, out = run(*base[:-4], "--name", "  ", "--out", str(tmp_path / "c20.p12"), "--birth-date", "1990-01-01")
    assert code == 1 and "[USAGE]" in out and "--name" in out
    assert not (tmp_path / "c20.p12").exists()
