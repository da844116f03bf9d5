#!/usr/bin/python3
"""Checks the documentation (make check-docs): every relative link and image
in README.md and docs/*.md points to a file or directory of the repository
(and a #fragment to a heading of the target page, GitHub's anchor rules);
no link leaves the repository; README.md stays under 250 lines; and no test,
script, example, benchmark, package source or doc reads from outside the
repository (the paths the project used to take from ../shared).

Usage: tools/check_docs.py [REPO]   (default: the repository holding this file)
Prints one line per problem and exits 1 if there is any, else prints a summary.
"""

import os
import re
import sys
from pathlib import Path

REPO = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
README_MAX_LINES = 250  # issue 13: what a new user needs first, the rest in docs/

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def prose(text):
    """The lines of a Markdown file outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else line)
    return out


def slug(heading):
    """GitHub's anchor for a heading: lower case, markup and punctuation
    dropped (letters, digits, spaces, '-' and '_' kept), spaces to '-'."""
    h = re.sub(r"`|\*\*|\*|__", "", heading.strip().lower())
    h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", h)
    h = "".join(c for c in h if c.isalnum() or c in " -_")
    return h.replace(" ", "-")


def anchors(path):
    seen, out = {}, set()
    for line in prose(path.read_text(encoding="utf-8")):
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(2))
            k = seen.get(s, 0)
            seen[s] = k + 1
            out.add(s if k == 0 else "%s-%d" % (s, k))
    return out


def check_links(problems):
    pages = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
    count = 0
    for page in pages:
        for lineno, line in enumerate(prose(page.read_text(encoding="utf-8")), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                count += 1
                where = "%s:%d" % (page.relative_to(REPO), lineno)
                file_part, _, frag = target.partition("#")
                dest = (page.parent / file_part).resolve() if file_part else page
                try:
                    dest.relative_to(REPO)
                except ValueError:
                    problems.append("%s: link %s leaves the repository" % (where, target))
                    continue
                if not dest.exists():
                    problems.append("%s: link %s: no such file %s" % (where, target, dest.relative_to(REPO)))
                    continue
                if frag and dest.suffix == ".md" and frag not in anchors(dest):
                    problems.append("%s: link %s: no heading with anchor #%s in %s"
                                    % (where, target, frag, dest.relative_to(REPO)))
    return count


# What reading outside the repository looked like: the team folder's paths.
OUTSIDE = re.compile(r"\.\./shared|parent\s*/\s*[\"']shared[\"']|/work/shared|shared/golden|shared/SPEC|SPEC\.md")
SCANNED = ["Makefile", "README.md", "pyproject.toml", "setup.py", "docs", "tests", "tools", "bench",
           "examples", "python", "include", "src", "cli", "fuzz"]
SUFFIXES = {".py", ".sh", ".md", ".c", ".h", ".toml", ".cfg", ".txt", ".csv", ""}


def check_outside(problems):
    me = Path(__file__).resolve()
    for top in SCANNED:
        root = REPO / top
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        for f in files:
            if f.resolve() == me or f.suffix not in SUFFIXES or "corpus" in f.parts or "regressions" in f.parts:
                continue
            try:
                text = f.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for lineno, line in enumerate(text.splitlines(), 1):
                if OUTSIDE.search(line):
                    problems.append("%s:%d: refers to the team folder outside the repository: %s"
                                    % (f.relative_to(REPO), lineno, line.strip()[:100]))


def main():
    problems = []
    links = check_links(problems)
    n = len((REPO / "README.md").read_text(encoding="utf-8").splitlines())
    if n >= README_MAX_LINES:
        problems.append("README.md: %d lines; keep it under %d (details go in docs/)" % (n, README_MAX_LINES))
    check_outside(problems)
    for p in problems:
        print("check-docs: " + p)
    if problems:
        return 1
    print("check-docs: %d relative links resolve; README.md %d lines; nothing reads outside the repository"
          % (links, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
