"""Every output is written to the end or the run fails (issue 10, items 1
and 18).

stdout: a full disk (/dev/full) or a closed stdout is exit 1 with
`simrep: error: standard output: <strerror>`, for every command.

-o DIR: each file (CSV, JSON, SVG, PNG, index.html) is written to a
temporary name in DIR and renamed when complete, so a failure (a full disk,
a file size limit) leaves no truncated or empty file and no temporary file,
and a complete file of an earlier run is not replaced by a broken one.  The
error is one line, `simrep: error: <file>: <strerror>`, exit 1.  A DIR that
cannot be written is one line before any data is read.
"""
import os
import resource
import shutil
import signal
import subprocess

import numpy as np
import pytest

from conftest import simrep_bin, write_npy

K = 4


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 5))
    rows = ["name,path,acc"]
    for i in range(K):
        write_npy(d / ("r%d.npy" % i), x + 0.3 * i * rng.normal(size=x.shape))
        rows.append("r%d,%s,%.3f" % (i, d / ("r%d.npy" % i), 0.9 - 0.1 * i))
    (d / "m.csv").write_text("\n".join(rows) + "\n")
    # Inputs readable by a process without CAP_DAC_OVERRIDE (read-only cases).
    os.chmod(d, 0o755)
    os.chmod(d.parent, 0o755)
    return d


def cmd(data, which, outdir=None):
    m = str(data / "m.csv")
    base = {
        "measures": ["measures"],
        "info": ["info", str(data / "r0.npy")],
        "info_json": ["info", str(data / "r0.npy"), "--format", "json"],
        "compare": ["compare", str(data / "r0.npy"), str(data / "r1.npy"), "-m", "cka"],
        "compare_json": ["compare", str(data / "r0.npy"), str(data / "r1.npy"), "-m", "cka", "--format", "json"],
        "matrix": ["matrix", "--manifest", m, "-m", "cka"],
        "matrix_csv": ["matrix", "--manifest", m, "-m", "cka", "--format", "csv"],
        "validate": ["validate", "--manifest", m, "--score", "acc", "-m", "cka", "--format", "json"],
    }[which]
    return [str(simrep_bin())] + base + (["-o", str(outdir)] if outdir else [])


def errors(stderr):
    return [l for l in stderr.splitlines() if l.startswith("simrep: error: ")]


@pytest.mark.parametrize("which", ["measures", "info", "info_json", "compare", "compare_json", "matrix", "matrix_csv", "validate"])
@pytest.mark.parametrize("fault", ["full", "closed"])
def test_stdout_written_to_the_end(data, which, fault):
    args = cmd(data, which)
    if fault == "full":
        with open("/dev/full", "w") as full:
            r = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        reason = os.strerror(28)  # ENOSPC
    else:
        r = subprocess.run(["sh", "-c", 'exec >&- ; exec "$@"', "sh"] + args, stderr=subprocess.PIPE, text=True,
                           timeout=120)
        reason = os.strerror(9)  # EBADF
    assert r.returncode == 1, r.stderr
    assert errors(r.stderr) == ["simrep: error: standard output: " + reason], r.stderr


def leftovers(d):
    """Temporary files (".name.XXXXXX") left in d."""
    return sorted(f for f in os.listdir(d) if f.startswith("."))


# (name, command, file made a link to /dev/full)
FULL = [("csv", "matrix", "cka_similarity.csv"), ("inputs", "matrix", "inputs.csv"),
        ("svg", "matrix", "cka_heatmap.svg"), ("html", "matrix", "index.html"),
        ("json", "validate", "validate.json"), ("validate_html", "validate", "index.html")]


@pytest.mark.parametrize("name,which,victim", FULL, ids=[f[0] for f in FULL])
def test_file_on_a_full_disk(data, tmp_path, name, which, victim):
    o = tmp_path / "o"
    o.mkdir()
    os.symlink("/dev/full", o / victim)
    r = subprocess.run(cmd(data, which, o) + ["--no-png"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert errors(r.stderr) == ["simrep: error: %s: %s" % (o / victim, os.strerror(28))], r.stderr
    assert os.path.islink(o / victim) and leftovers(o) == []


def limited(limit):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


@pytest.mark.parametrize("png", [False, True], ids=["svg", "png"])
def test_failed_run_leaves_no_broken_file(data, tmp_path, png):
    """A file size limit (the disk-full case without a full disk): the first
    file larger than the limit fails; nothing truncated or temporary is left,
    and the complete files of an earlier run stay as they were."""
    if png and not shutil.which("rsvg-convert"):
        pytest.skip("no rsvg-convert")
    o = tmp_path / "o"
    args = cmd(data, "matrix", o) + ([] if png else ["--no-png"])
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    before = {f: (o / f).read_bytes() for f in os.listdir(o)}
    # the limit: above every CSV, below the largest SVG; or above every file but the PNGs
    svgs = [len(b) for f, b in before.items() if f.endswith(".svg")]
    csvs = [len(b) for f, b in before.items() if f.endswith(".csv")]
    if png:  # SVGs fit, PNGs do not: rsvg-convert fails (a warning, the SVG figures go on)
        limit = max(len(b) for f, b in before.items() if not f.endswith(".png")) + 1
        assert min(len(b) for f, b in before.items() if f.endswith(".png")) > limit
    else:
        limit = (max(csvs) + max(svgs)) // 2
        assert max(csvs) < limit < max(svgs)
    for f in before:  # a fresh run into an empty directory, then over the old files
        os.unlink(o / f)
    for fresh in (True, False):
        r = subprocess.run(args, capture_output=True, text=True, timeout=120, preexec_fn=limited(limit))
        names = os.listdir(o)
        assert leftovers(o) == [], names
        for f in names:  # complete (the same bytes as the unlimited run), none cut at the limit
            assert (o / f).read_bytes() == before[f], f
            assert len(before[f]) < limit or not fresh, f
        if png:
            assert r.returncode == 0 and "rsvg-convert failed" in r.stderr, r.stderr
            assert not any(f.endswith(".png") for f in names) or not fresh
            assert sorted(f for f in names if not f.endswith(".png")) == sorted(f for f in before
                                                                                if not f.endswith(".png"))
        else:
            assert r.returncode == 1, r.stderr
            (line,) = errors(r.stderr)
            assert line.startswith("simrep: error: %s/" % o) and line.endswith(": " + os.strerror(27)), line  # EFBIG
            if fresh:
                assert not os.path.exists(line.split(": ")[2]), line
        if fresh:  # the complete run's files back, to be overwritten
            for f, b in before.items():
                (o / f).write_bytes(b)
    for f, b in before.items():  # nothing of the earlier run was replaced by a broken file
        assert (o / f).read_bytes() == b, f


def unprivileged(args):
    """args run without the right to write where the mode says no (root
    ignores modes: its CAP_DAC_OVERRIDE is dropped)."""
    if os.geteuid() != 0:
        return args
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] + args


@pytest.mark.parametrize("which", ["matrix", "validate"])
@pytest.mark.parametrize("where", ["dir", "parent"])
def test_read_only_output_directory(data, tmp_path, which, where):
    """One line with the reason, before any data is read (nothing on stdout)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(tmp_path, 0o755)
    o = ro if where == "dir" else ro / "sub"
    ro.chmod(0o555)
    try:
        r = subprocess.run(unprivileged(cmd(data, which, o)), capture_output=True, text=True, timeout=120)
    finally:
        ro.chmod(0o755)
    assert r.returncode == 1, r
    what = "cannot write in the output directory" if where == "dir" else "cannot create the output directory"
    assert r.stderr.splitlines() == ["simrep: error: %s: %s: %s" % (o, what, os.strerror(13))], r.stderr
    assert r.stdout == ""
    assert os.listdir(ro) == []


def test_output_directory_made_for_a_failed_run_is_removed(data, tmp_path):
    """-o DIR made by a run whose data failed is not left behind empty."""
    (tmp_path / "bad.npy").write_bytes(b"not an npy")
    m = tmp_path / "m.csv"
    m.write_text("name,path\na,%s\nb,%s\n" % (data / "r0.npy", tmp_path / "bad.npy"))
    o = tmp_path / "new"
    r = subprocess.run([str(simrep_bin()), "matrix", "--manifest", str(m), "-m", "cka", "-o", str(o)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "bad.npy" in r.stderr, r.stderr
    assert not o.exists()
