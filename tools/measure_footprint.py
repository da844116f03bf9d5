#!/usr/bin/env python3
"""How many places adding a measure touched.

The registry's promise (src/measures.c): a measure computed from the moments
is its enum value (include/simrep.h), its row in src/measures.c and its
function in one .c file of src/, plus docs and tests; the CLI, MPI, matrix
and the Python package need nothing.  This checks every commit whose
subject starts with "measure:" (the convention for commits that add one):
the files it changes outside docs/ and tests/ must be include/simrep.h,
src/measures.c and at most one other src/*.c.  Prints a table; exits 1 if a
commit broke the promise, 0 otherwise (also when the history is not there,
e.g. a source tarball).

    tools/measure_footprint.py [git-log range, default HEAD]
"""
import subprocess
import sys

ALLOWED = {"include/simrep.h", "src/measures.c"}


def git(*args):
    return subprocess.run(["git"] + list(args), capture_output=True, text=True, check=True).stdout


def main():
    rng = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    try:
        log = git("log", "--format=%H %s", rng)
    except (OSError, subprocess.CalledProcessError):
        print("measure_footprint: no git history here; nothing to check")
        return 0
    bad = 0
    for line in log.splitlines():
        sha, subject = line.split(" ", 1)
        if not subject.startswith("measure:"):
            continue
        files = [f for f in git("show", "--format=", "--name-only", sha).split() if f]
        code = [f for f in files if not f.startswith(("docs/", "tests/"))]
        extra = [f for f in code if f not in ALLOWED]
        ok = len(extra) <= 1 and all(f.startswith("src/") and f.endswith(".c") for f in extra)
        bad += not ok
        print("%s %-4s code: %s; docs/tests: %d  %s" % (sha[:7], "ok" if ok else "BAD", ", ".join(code),
                                                        len(files) - len(code), subject[:60]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
