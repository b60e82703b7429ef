"""Every doc and comment refers only to files inside the repository: users get the repository, nothing beside it.

The lab's planning notes (a design file and a machine-facts file kept outside the repository) and its issue tracker
are not shipped, so a reference to them is a dead link for every reader. The patterns are assembled from pieces so
this file does not match itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_MD = r"\.md"
FORBIDDEN = re.compile(
    "|".join(
        [
            "DESIGN" + _MD,
            "ENVIRONMENT" + _MD,
            "shared" + "/",
            r"[Ii]ssue [0-9]",
            r"\(" + "issue",
        ]
    )
)
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".ipynb", ".toml", ".txt", ".cfg", ".sh", ".json", ".html", ""}
SKIP_DIRS = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__", "node_modules"}


def tracked_text_files() -> list[Path]:
    """The repository's tracked text files (git's list; a plain walk when this is not a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True, timeout=30
        ).stdout
        paths = [ROOT / name for name in out.split("\0") if name]
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        paths = [p for p in ROOT.rglob("*") if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]
    return [p for p in paths if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name == "Makefile")]


def references_outside_repo(paths: list[Path], root: Path = ROOT) -> list[str]:
    """``path:line: text`` for every line that cites a file or tracker outside the repository."""
    hits = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # a binary file with a text-like name is not a doc
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(root)}:{number}: {line.strip()[:160]}")
    return hits


def test_docs_and_comments_cite_only_files_in_the_repository() -> None:
    paths = tracked_text_files()
    assert any(p.name == "README.md" for p in paths), "the scan must cover the README"
    assert references_outside_repo(paths) == []


def test_the_scan_finds_an_outside_reference(tmp_path: Path) -> None:
    doc = tmp_path / "note.md"
    doc.write_text("fine\nsee " + "DESIGN" + ".md\n(" + "iss" + "ue 4) too\n../" + "shared" + "/x\n", encoding="utf-8")
    assert [hit.split(":")[1] for hit in references_outside_repo([doc], root=tmp_path)] == ["2", "3", "4"]


MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCS_PATH = re.compile(r"\bdocs/[\w./-]+\.(?:md|png)\b")


def dangling_references(paths: list[Path], root: Path = ROOT) -> list[str]:
    """Relative markdown links and ``docs/...`` paths (in any text file) that name no file in the repository."""
    missing = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        links = MD_LINK.findall(text) if path.suffix == ".md" else []
        for link in links:
            target = link.split("#")[0]
            if target and not re.match(r"[a-z]+:", target) and not (path.parent / target).exists():
                missing.append(f"{path.relative_to(root)}: link {link}")
        prose = MD_LINK.sub("]()", text) if path.suffix == ".md" else text  # a link is checked once, above
        missing += [f"{path.relative_to(root)}: {ref}" for ref in DOCS_PATH.findall(prose) if not (root / ref).exists()]
    return missing


def test_links_and_docs_paths_name_files_that_exist() -> None:
    assert dangling_references(tracked_text_files()) == []


def test_a_dangling_link_is_found(tmp_path: Path) -> None:
    docs = "docs"  # paths assembled so this file does not name missing docs itself
    (tmp_path / docs).mkdir()
    (tmp_path / docs / "here.md").write_text("ok", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(
        f"[a]({docs}/here.md) [b]({docs}/gone.md) [c](https://example.org) see {docs}/lost.md\n", encoding="utf-8"
    )
    assert dangling_references([readme], root=tmp_path) == [
        f"README.md: link {docs}/gone.md",
        f"README.md: {docs}/lost.md",
    ]
