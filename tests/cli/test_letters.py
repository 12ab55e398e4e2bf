"""The voting letter (``ballotchain voters letters``): the PDF is rendered to images and read
back as a person and a phone would: the QR code decodes to the voting address with the chain
pin, and the text names the code, the fingerprint, the window in JST and the steps, in
Japanese and English, one page per voter."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from ballot_tx.eligibility.one_time_code import code_from_seed, format_code
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.keys import KeyPair
from ballot_tx.manifest import Label
from cli.letters import Letter, fingerprint, read_codes, render, voting_address
from harness.webpoll import poll_manifest
from tests.conftest import skip_unless_setup_installs

EID = bytes(range(32))
CHAIN = bytes(range(100, 132))
START = 1_780_000_000_000  # 2026-05-28 20:26:40 UTC = 2026-05-29 05:26 JST


def tools() -> None:
    missing = [t for t in ("pdftoppm", "pdftotext", "zbarimg") if shutil.which(t) is None]
    if missing:
        skip_unless_setup_installs(
            f"{missing} not installed (apt-get install poppler-utils zbar-tools)", extra="letters")


def pdf_of(letters: list[Letter], tmp_path: Path) -> Path:
    m = poll_manifest("letters", [KeyPair.from_seed(bytes([i]) * 32) for i in (1, 2, 3)],
                      "one-time-code", START + 60_000)
    m = replace(m, title=Label("｜筑波《つくば》市 住民投票", "Tsukuba city vote"))  # a title with a reading
    out = tmp_path / "letters.pdf"
    out.write_bytes(render(m, EID, CHAIN, "https://vote.city.tsukuba.example", letters))
    return out


def test_letter_reads_back_as_text_and_its_qr_code_opens_the_pinned_page(tmp_path: Path) -> None:
    tools()
    letters = [Letter(str(i), format_code(code_from_seed(EID, i))) for i in (1, 2, 3)]
    pdf = pdf_of(letters, tmp_path)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3, "one page per voter"
    address = voting_address("https://vote.city.tsukuba.example", EID, CHAIN)
    assert address == f"https://vote.city.tsukuba.example/vote/{EID.hex()}?chain={CHAIN.hex()}"
    for page in pages:
        scan = subprocess.run(["zbarimg", "-q", "--raw", str(page)], capture_output=True, text=True)
        assert scan.stdout.strip() == address, scan.stdout + scan.stderr
    for n, letter in enumerate(letters, 1):
        text = subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        flat = re.sub(r"\s+", "", text)
        assert letter.code in text and f"No.{letter.number}" in flat
        assert all(c.code not in text for c in letters if c is not letter), "each page has its own code only"
        assert fingerprint(CHAIN) == "6465 6667 6869 6a6b" and "6465 6667 6869 6a6b" in text
        assert "2026-05-29 05:26" in text and "JST" in text and "日本時間" in text
        assert re.sub(r"\s+", "", address) in flat
        for words in ("投票のしかた", "How to vote", "暗号化を確認する", "is not counted",
                      "追跡コード", "tracking code", "1回だけ", "votes once", "筑波市住民投票",
                      "Tsukubacityvote"):
            assert words in flat or words in text, words
        assert "《" not in text, "readings are not printed as markup"


def test_codes_file_is_checked_line_by_line(tmp_path: Path) -> None:
    good = format_code(code_from_seed(EID, 7))
    assert read_codes(f"number,code\n7,{good}\n\n") == [Letter("7", good)]
    for text, where in [("code\nX", "first line"), (f"number,code\n1,{good[:-1]}X\n", "line 2"),
                        ("number,code\n1\n", "line 2"), ("number,code\n", "no codes")]:
        with pytest.raises(BallotchainError) as ei:
            read_codes(text)
        assert ei.value.code == ErrorCode.LETTER_BAD_CODES and where in ei.value.message, text
