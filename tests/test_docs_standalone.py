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
