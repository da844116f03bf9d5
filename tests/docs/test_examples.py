"""The examples in README.md and docs/*.md run (make check-docs).

Every fenced ```sh and ```python block of those pages is run from the
repository root, as a reader would paste it, against this build
(build/simrep and build/libsimrep.so; SIMREP_BIN / SIMREP_LIBRARY choose
another): a shell block with `sh -e` (every command must succeed), a Python
block with Debian's /usr/bin/python3 and the package in python/.  Paths
under /tmp/ are moved to a private temporary directory, so concurrent runs
do not share files; the blocks of one page run in order and share it.

A block that is not meant to be pasted as it is (a synopsis with
placeholders, `make check` itself, installing into the user's home) is
marked with an HTML comment on the line before its fence:
    <!-- not run: why -->
Those are listed by test_skipped_blocks_say_why, so the exceptions stay few
and explained; what they show is tested elsewhere (check-install runs the
pip commands).
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
PAGES = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
PY = "/usr/bin/python3"
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->\s*$")


def blocks():
    """(page, line, language, code, skip reason or None) for every fenced block."""
    out = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            prev = lines[i - 1] if i else ""
            skip = SKIP.match(prev)
            out.append((page.relative_to(REPO), i + 1, m.group(1), "\n".join(lines[i + 1:j]) + "\n",
                        skip.group(1) if skip else None))
            i = j + 1
    return out


RUNNABLE = [b for b in blocks() if b[2] in ("sh", "python") and b[4] is None]


def env_for(tmp):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = str(REPO / "python")
    env.setdefault("SIMREP_LIBRARY", str(REPO / "build" / "libsimrep.so"))
    env["TMPDIR"] = str(tmp)
    return env


RUN_PAGES = sorted({b[0] for b in RUNNABLE})


@pytest.mark.parametrize("page", RUN_PAGES, ids=[str(p) for p in RUN_PAGES])
def test_page_examples_run(page, tmp_path):
    """The page's blocks in order, sharing one /tmp (a later block may read
    what an earlier one wrote, as a reader following the page would)."""
    simrep_bin = os.environ.get("SIMREP_BIN")
    for _, line, lang, code, _ in [b for b in RUNNABLE if b[0] == page]:
        code = code.replace("/tmp/", str(tmp_path) + "/")
        if simrep_bin and lang == "sh":
            code = re.sub(r"(?m)(^|\s)build/simrep\b", lambda m: m.group(1) + simrep_bin, code)
        cmd = ["sh", "-e", "-c", code] if lang == "sh" else [PY, "-c", code]
        p = subprocess.run(cmd, cwd=REPO, env=env_for(tmp_path), capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, "%s:%d (%s block) failed, exit %d\n--- code\n%s--- stdout\n%s\n--- stderr\n%s" % (
            page, line, lang, p.returncode, code, p.stdout[-3000:], p.stderr[-3000:])


def test_skipped_blocks_say_why():
    skipped = [b for b in blocks() if b[4] is not None]
    for page, line, lang, code, why in skipped:
        assert len(why) >= 10, "%s:%d: say why the block is not run" % (page, line)
    assert len(skipped) <= 12, "most examples should run: %d blocks are marked not run" % len(skipped)


def test_some_blocks_run():
    assert sum(b[2] == "python" for b in RUNNABLE) >= 2 and sum(b[2] == "sh" for b in RUNNABLE) >= 4
