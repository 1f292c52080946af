"""The documentation: README.md stays a front page (at most 1,500 words, counted as `wc -w`
counts them), and every relative link in README.md and docs/*.md names a file that exists,
and a heading there when it names one."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
MAX_README_WORDS = 1500

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|\b(?:src|href)=\"([^\"]+)\"")


def _prose(text: str) -> str:
    """The text without code blocks and code spans (their brackets are not links)."""
    return _CODE.sub("", _FENCE.sub("", text))


def relative_links(page: Path) -> list[str]:
    found = [a or b for a, b in _LINK.findall(_prose(page.read_text(encoding="utf-8")))]
    return [t for t in found if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("//")]


def anchors(page: Path) -> set[str]:
    """GitHub's ids of a Markdown file's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated id numbered."""
    seen: dict[str, int] = {}
    out = set()
    for line in _FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match[1].replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def test_the_readme_is_a_front_page():
    words = len(README.read_text(encoding="utf-8").split())  # what `wc -w README.md` counts
    assert words <= MAX_README_WORDS, f"README.md has {words} words; move detail to docs/"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / unquote(t.split("#")[0])).resolve() for t in relative_links(README)}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"README.md's 'More' list lacks {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_names_an_existing_file_and_heading(page):
    broken = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        where = (page.parent / unquote(path)).resolve() if path else page
        if not where.exists():
            broken.append(f"{target}: no such file")
        elif fragment and where.suffix == ".md" and fragment.lower() not in anchors(where):
            broken.append(f"{target}: no such heading in {where.relative_to(REPO_ROOT)}")
    assert not broken, broken
