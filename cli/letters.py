"""The voting letter: one printable A4 page per voter, in Japanese and English.

Each page carries the voting address as text and as a QR code (the address pins the chain,
as the page does: ``/vote/<election>?chain=<chain id>``), the voter's one-time code, the
chain fingerprint in plain form (the same 4 groups of 4 the page shows), the voting window
in Japan time, and short instructions: how to vote, "check my ballot", keeping the
tracking code, and that a code votes once.

Libraries (the ``letters`` extra): fpdf2 writes the PDF (pure Python, embeds and subsets
TrueType/OpenType fonts, including the CFF Noto CJK collection), segno draws the QR code
(pure Python, no dependencies). Japanese text needs a CJK font: Debian's fonts-noto-cjk
(scripts/_setup.sh installs it), or IPAexGothic / IPAGothic.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ballot_tx.eligibility import one_time_code as otc
from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.manifest import Manifest
from ballot_tx.yomi import plain

#: Japanese fonts tried in order: (file, index in a collection).
FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf", 0),
    ("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf", 0),
)
JST = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class Letter:
    number: str
    code: str  # formatted, ABCD-EFGH-JKMN-PQRS


def read_codes(text: str, where: str = "codes.csv") -> list[Letter]:
    """The rows of ``ballotchain voters codes``' CSV (number,code), each code checked."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0]] != ["number", "code"]:
        raise BallotchainError(ErrorCode.LETTER_BAD_CODES,
                               f"{where}: the first line must be 'number,code' (the file 'voters codes' writes)")
    out = []
    for n, row in enumerate(rows[1:], 2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise BallotchainError(ErrorCode.LETTER_BAD_CODES, f"{where}, line {n}: expected number,code")
        try:
            code = otc.format_code(otc.normalize(row[1]))
        except BallotchainError as e:
            raise BallotchainError(ErrorCode.LETTER_BAD_CODES, f"{where}, line {n}: {e.message}") from None
        out.append(Letter(row[0].strip(), code))
    if not out:
        raise BallotchainError(ErrorCode.LETTER_BAD_CODES, f"{where}: no codes")
    return out


def fingerprint(chain_id: bytes) -> str:
    h = chain_id.hex()
    return " ".join(h[i:i + 4] for i in range(0, 16, 4))


def voting_address(base_url: str, eid: bytes, chain_id: bytes) -> str:
    return f"{base_url.rstrip('/')}/vote/{eid.hex()}?chain={chain_id.hex()}"


def _jst(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, JST).strftime("%Y-%m-%d %H:%M")


def instructions(m: Manifest) -> list[tuple[str, str]]:
    """(Japanese, English) steps printed on every letter."""
    steps = [
        ("スマートフォンのカメラで右のQRコードを読み取るか、上のアドレスを入力してください。",
         "Scan the QR code with a phone camera, or type the address above."),
        ("画面の「確認用の番号」が、この案内の番号と同じか確かめてください。違うときは投票せず、"
         "選挙管理委員会にお知らせください。",
         "Check that the page shows the same chain fingerprint as this letter. If it does not, "
         "do not vote: tell the election office."),
        ("投票コードを入力し、選んで、内容を確かめてから投票してください。時間の制限はありません。",
         "Type your voting code, make your choices, check them, then cast your ballot. "
         "There is no time limit."),
        ("「暗号化を確認する」を選ぶと、投票用紙が正しく暗号化されたかを確かめられます。"
         "確かめた投票用紙は集計されません。そのあと新しい投票用紙で投票してください。",
         "“Check the encryption” opens a ballot to show it was encrypted as you chose. "
         "That ballot is not counted: then vote with a fresh ballot."),
        ("投票すると追跡コードが表示されます。控えておくと、投票が記録されたことを後から"
         "確かめられます(最初の16文字だけでも確かめられます)。",
         "After you vote you get a tracking code. Keep it: with it you can check later that "
         "your ballot was recorded (its first 16 characters are enough)."),
    ]
    if m.eligibility == "one-time-code":
        steps.append(("投票コードで投票できるのは1回だけです。やり直しはできません。"
                      "この案内は他の人に見せないでください。",
                      "The code votes once and cannot be used again. "
                      "Do not show this letter to anyone."))
    return steps


def _font() -> tuple[str, int]:
    for path, index in FONTS:
        if Path(path).is_file():
            return path, index
    raise BallotchainError(ErrorCode.LETTER_FONT_MISSING,
                           "no Japanese font found: install one with apt-get install fonts-noto-cjk")


def render(m: Manifest, eid: bytes, chain_id: bytes, base_url: str, letters: list[Letter]) -> bytes:
    """The PDF bytes: one A4 page per letter."""
    try:
        import segno
        from fpdf import FPDF
        from fpdf.enums import XPos, YPos
    except ImportError:
        raise BallotchainError(ErrorCode.USAGE, "voting letters need fpdf2 and segno: "
                               "pip install -e '.[letters]' (scripts/demo and scripts/test install them)") from None
    font_path, index = _font()
    address = voting_address(base_url, eid, chain_id)
    buf = io.BytesIO()
    segno.make(address, error="m").save(buf, kind="png", scale=10, border=4)
    qr_png = buf.getvalue()
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_title(f"{plain(m.title.ja)} / {m.title.en}")
    pdf.add_font("jp", fname=font_path, collection_font_number=index)
    steps = instructions(m)
    width = 210 - 2 * 18

    def line(w: float, h: float, text: str, size: float) -> None:
        pdf.set_font("jp", size=size)
        pdf.multi_cell(w, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    for letter in letters:
        pdf.add_page()
        pdf.set_margins(18, 16, 18)
        pdf.set_xy(18, 16)
        line(width, 9, "インターネット投票のご案内 / Your internet voting letter", 17)
        line(width, 7, f"{plain(m.title.ja)}\n{m.title.en}", 13)
        line(width, 6, f"投票期間 / Voting period: {_jst(m.start_ms)} – {_jst(m.end_ms)} "
                       "(日本時間 / Japan time, JST)", 11)
        pdf.ln(3)
        top = pdf.get_y()
        text_w = width - 62
        line(text_w, 6.5, "1. 投票するページ / Where to vote", 12)
        line(text_w, 4.5, address, 8.5)
        pdf.ln(2)
        line(text_w, 6.5, "2. あなたの投票コード / Your voting code", 12)
        line(text_w, 12, letter.code, 24)
        line(text_w, 5, f"番号 / No. {letter.number}", 9)
        pdf.ln(2)
        line(text_w, 6.5, "3. 確認用の番号 / Chain fingerprint", 12)
        line(text_w, 9, fingerprint(chain_id), 18)
        pdf.image(io.BytesIO(qr_png), x=210 - 18 - 58, y=top, w=58, h=58)
        pdf.set_y(max(pdf.get_y(), top + 62) + 4)
        line(width, 6.5, "投票のしかた / How to vote", 12)
        for i, (ja, en) in enumerate(steps, 1):  # numbered, with a hanging indent
            y = pdf.get_y()
            pdf.set_font("jp", size=10.5)
            pdf.set_xy(18, y)
            pdf.cell(7, 5.6, f"{i}.")
            pdf.set_xy(25, y)
            pdf.multi_cell(width - 7, 5.6, ja, new_x=XPos.LEFT, new_y=YPos.NEXT)
            pdf.set_font("jp", size=9.5)
            pdf.multi_cell(width - 7, 5, en, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1.5)
    return bytes(pdf.output())
