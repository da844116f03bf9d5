"""Installing the Python package the ways docs/python.md says (make check-install).

  - `pip install --no-build-isolation --no-index .` into a fresh venv
    (python3 -m venv --system-site-packages: numpy and pip from Debian),
    then import it from outside the repository, with no PYTHONPATH and no
    SIMREP_LIBRARY, and compare a golden case; `pip uninstall -y simrep`
    leaves nothing behind;
  - `pip install -e .` (editable): the sources in python/, the library in
    build/, and the same compare; uninstall;
  - `python3 -m build --no-isolation --wheel` (Debian's python3-build): one
    platform wheel holding the package and libsimrep.so, installed into
    another fresh venv and smoke-tested; uninstall.

Each install also puts the CLI on the venv's PATH as bin/simrep (the
binary itself; for -e a sh script running the repository's build/simrep):
it must run a golden compare from outside the tree and go with uninstall.

Offline throughout (--no-index, --no-build-isolation): Debian's setuptools,
wheel and build are the whole toolchain.  The version pip records, the
package's __version__ and the library's simrep_version() must all be
SIMREP_VERSION of include/simrep.h.

The second venv is made --without-pip (0.3 s instead of ~5 s for ensurepip)
and runs Debian's pip from the system site packages: the same pip 23 that
the first venv's own pip is, installing into the venv.  The library build
is `make build/libsimrep.so`, a no-op after `make` (make check builds first).
"""

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
GOLDEN = REPO / "tests" / "golden"
HEADER_VERSION = re.search(r'^#define SIMREP_VERSION "([^"]+)"', (REPO / "include" / "simrep.h").read_text(),
                           re.M).group(1)
PY = "/usr/bin/python3"  # Debian's, whose venvs see python3-numpy with --system-site-packages

# Run from a directory outside the repository: nothing there to import by accident.
SMOKE = r"""
import importlib.metadata, json, os, sys
import numpy as np
import simrep, simrep.compat
g = sys.argv[1]
exp = json.load(open(os.path.join(g, "expected.json")))["kornblith_demo"]
x, y = np.load(os.path.join(g, "kornblith_demo_x.npy")), np.load(os.path.join(g, "kornblith_demo_y.npy"))
r = simrep.compare(x, y, measures=["cca", "pwcca", "cka"])
for m in ("cca", "pwcca", "cka"):
    assert abs(r[m]["similarity"] - exp[m]) < 1e-6, (m, r[m]["similarity"], exp[m])
k = simrep.matrix([x, y, x[:, ::-1]], measures=["cka"])["measures"]["cka"]["similarity"]
assert abs(k[0, 1] - exp["cka"]) < 1e-6 and abs(k[0, 2] - 1) < 1e-12
print(json.dumps({"file": simrep.__file__, "library": simrep.library_path, "version": simrep.__version__,
                  "dist_version": importlib.metadata.version("simrep")}))
"""


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SIMREP_LIBRARY", "SIMREP_BIN", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def run(cmd, cwd, **kw):
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=clean_env(), capture_output=True, text=True, **kw)
    assert p.returncode == 0, "%s\n(exit %d)\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(map(str, cmd)), p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    return p.stdout


def make_venv(where, with_pip=True):
    run([PY, "-m", "venv", "--system-site-packages"] + ([] if with_pip else ["--without-pip"]) + [where], where.parent)
    return where / "bin" / "python"


def site_packages(python, cwd):
    return Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd).strip())


def smoke(python, cwd):
    return json.loads(run([python, "-c", SMOKE, GOLDEN], cwd).strip().splitlines()[-1])


def cli_smoke(python, cwd):
    """The venv's `simrep` command (bin/ next to its python, as on PATH when
    the venv is active): its version and a golden compare."""
    exe = python.parent / "simrep"
    assert os.access(exe, os.X_OK), exe
    assert run([exe, "--version"], cwd).split() == ["simrep", HEADER_VERSION]
    exp = json.loads((GOLDEN / "expected.json").read_text())["kornblith_demo"]
    out = json.loads(run([exe, "compare", GOLDEN / "kornblith_demo_x.npy", GOLDEN / "kornblith_demo_y.npy",
                          "-m", "cca,pwcca,cka", "--format", "json"], cwd))
    for m in ("cca", "pwcca", "cka"):
        assert abs(out["measures"][m]["similarity"] - exp[m]) < 1e-6, m
    return exe


def assert_removed(python, cwd, site):
    left = [p.name for p in site.iterdir() if p.name.lower().startswith(("simrep", "__editable__.simrep"))]
    assert not left, "pip uninstall left %s in %s" % (left, site)
    assert not (python.parent / "simrep").exists(), "pip uninstall left bin/simrep"
    p = subprocess.run([str(python), "-c", "import simrep"], cwd=cwd, env=clean_env(), capture_output=True, text=True)
    assert p.returncode != 0 and "No module named 'simrep'" in p.stderr, p.stderr


def test_pip_install_and_editable_then_uninstall(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    python = make_venv(tmp_path / "venv")
    pip = [python, "-m", "pip"]
    site = site_packages(python, outside)

    run(pip + ["install", "--no-build-isolation", "--no-index", REPO], outside)
    got = smoke(python, outside)
    assert Path(got["file"]).parent == site / "simrep"
    assert Path(got["library"]) == site / "simrep" / "libsimrep.so"  # inside the package, not the repository
    assert got["version"] == got["dist_version"] == HEADER_VERSION
    files = run(pip + ["show", "-f", "simrep"], outside)
    assert "simrep/libsimrep.so" in files and "simrep/compat/cca_core.py" in files
    assert "bin/simrep" in files
    exe = cli_smoke(python, outside)
    assert exe.read_bytes()[:4] == b"\x7fELF"  # the CLI itself, no Python launcher
    run(pip + ["uninstall", "-y", "simrep"], outside)
    assert_removed(python, outside, site)

    run(pip + ["install", "--no-build-isolation", "--no-index", "-e", REPO], outside)
    got = smoke(python, outside)
    assert Path(got["file"]) == REPO / "python" / "simrep" / "__init__.py"  # edits take effect
    assert Path(got["library"]) == REPO / "build" / "libsimrep.so"
    assert got["version"] == got["dist_version"] == HEADER_VERSION
    exe = cli_smoke(python, outside)
    assert str(REPO / "build" / "simrep") in exe.read_text()  # follows `make`
    run(pip + ["uninstall", "-y", "simrep"], outside)
    assert_removed(python, outside, site)


def test_wheel_builds_installs_and_uninstalls(tmp_path):
    dist = tmp_path / "dist"
    run([PY, "-m", "build", "--no-isolation", "--wheel", "--outdir", dist, REPO], REPO)
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    tag = "cp%d%d" % sys.version_info[:2]
    assert re.fullmatch(r"simrep-%s-%s-%s-linux_[a-z0-9_]+\.whl" % (re.escape(HEADER_VERSION), tag, tag),
                        wheels[0].name), wheels[0].name
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "simrep/libsimrep.so" in names and "simrep/__init__.py" in names and "simrep/torch.py" in names
    script = zipfile.ZipFile(wheels[0]).getinfo("simrep-%s.data/scripts/simrep" % HEADER_VERSION)
    assert script.external_attr >> 16 & 0o111, oct(script.external_attr >> 16)  # executable
    assert not [n for n in names if n.startswith(("tests/", "src/", "build/"))], names

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    python = make_venv(tmp_path / "venv", with_pip=False)
    site = site_packages(python, outside)
    run([python, "-m", "pip", "install", "--no-index", wheels[0]], outside)
    got = smoke(python, outside)
    assert Path(got["library"]) == site / "simrep" / "libsimrep.so"
    assert got["version"] == got["dist_version"] == HEADER_VERSION
    cli_smoke(python, outside)
    run([python, "-m", "pip", "uninstall", "-y", "simrep"], outside)
    assert_removed(python, outside, site)


@pytest.mark.parametrize("spec", ["pyproject.toml", "setup.py"])
def test_version_is_written_once(spec):
    """The packaging files read the version from the header; they never state it."""
    text = (REPO / spec).read_text()
    assert HEADER_VERSION not in text and not re.search(r"version\s*=\s*[\"']\d", text)
    init = (REPO / "python" / "simrep" / "__init__.py").read_text()
    assert not re.search(r"__version__\s*=\s*[\"']", init)
