"""Every relative link and anchor in the repository's Markdown resolves.

README is a front door into docs/: a moved section or a renamed heading must not leave a
link pointing nowhere. Anchors are computed as GitHub renders headings (lower case,
punctuation dropped, spaces to hyphens, ``-1``, ``-2`` for repeats).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"node_modules", ".git", ".venv", ".bench", "__pycache__", ".mypy_cache", ".ruff_cache",
             ".pytest_cache", ".hypothesis"}
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def markdown_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.md")
                  if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts))


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    seen: dict[str, int] = {}
    out: set[str] = set(HTML_ANCHOR.findall(text))
    for m in HEADING.finditer(text):
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(path: Path) -> list[str]:
    problems = []
    for m in LINK.finditer(_prose(path.read_text())):
        url = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I):  # http:, https:, mailto:
            continue
        target, _, anchor = url.partition("#")
        dest = path if not target else (path.parent / target).resolve()
        if not dest.exists():
            problems.append(f"{url}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{url}: no heading with anchor #{anchor}")
    return problems


def test_the_scan_covers_readme_and_docs() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in markdown_files()}
    assert {"README.md", "SECURITY.md", "docs/api.md", "docs/roles/voter.md", "docs/spec/README.md"} <= names
    assert not any("node_modules" in n for n in names)


def test_slugs_follow_github() -> None:
    assert slug("Voting from a phone: the `/vote/` page (`web/`, `node/web.py`)") == \
        "voting-from-a-phone-the-vote-page-web-nodewebpy"
    assert slug("3. The genesis ceremony") == "3-the-genesis-ceremony"
    assert slug("Metrics (`GET /metrics`, Prometheus text format)") == "metrics-get-metrics-prometheus-text-format"


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n[ok](#title) [bad](#nope) [gone](b.md) `[code](x.md)`\n")
    assert broken_links(tmp_path / "a.md") == ["#nope: no heading with anchor #nope", "b.md: no such file"]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve(path: Path) -> None:
    assert broken_links(path) == []
