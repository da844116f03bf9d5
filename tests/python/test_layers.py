"""The input files' layers call one way (issue 12 item 3): source.c (spec
strings, formats, the block reader) -> the format parsers (io_npy.c,
io_npz.c, io_safetensors.c) -> bytes.c (reader, stream, inflater), never
back up.  Read from the built objects' symbols (nm): which of these files
uses a function another defines."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FILES = ["bytes", "io_npy", "io_npz", "io_safetensors", "source"]


def symbols(obj, *flags):
    out = subprocess.run(["nm", *flags, str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()}


def test_readers_call_one_way():
    objdir = Path(os.environ.get("SIMREP_BIN", "build/simrep")).resolve().parent / "obj"
    if not shutil.which("nm") or not all((objdir / (f + ".o")).exists() for f in FILES):
        pytest.skip("needs nm and the library's objects in %s" % objdir)
    defined = {f: symbols(objdir / (f + ".o"), "--defined-only", "-g") for f in FILES}
    uses = {f: {g for g in FILES if g != f and symbols(objdir / (f + ".o"), "-u") & defined[g]} for f in FILES}
    assert uses["bytes"] == set(), "the byte layer calls up into %s" % uses["bytes"]
    for parser in ("io_npy", "io_npz", "io_safetensors"):
        assert "source" not in uses[parser], "%s calls source.c" % parser
        assert "bytes" in uses[parser] or parser == "io_npy" and "bytes" in uses["io_npz"]
    assert uses["source"] >= {"bytes", "io_npy", "io_npz", "io_safetensors"}
    # No cycle at all among the five (a depth-first walk finds no back edge).
    state = {}

    def walk(f):
        state[f] = 1
        for g in uses[f]:
            assert state.get(g) != 1, "a cycle through %s and %s" % (f, g)
            if g not in state:
                walk(g)
        state[f] = 2

    for f in FILES:
        if f not in state:
            walk(f)
