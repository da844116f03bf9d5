"""The build step pyproject.toml's setuptools backend runs: the pure-Python
package from python/simrep plus libsimrep.so, built by the Makefile from
src/ (`make build/libsimrep.so`, so an up-to-date library from an earlier
`make` is reused) and copied into the package (simrep/libsimrep.so, the
first place simrep/_native.py looks).  An editable install (pip install -e)
builds the library too but copies nothing: the package in python/ finds
build/libsimrep.so by its repository path.

The command line: the CLI binary (`make build/simrep`) is the package's one
script, so pip puts it on the venv's PATH as `simrep` (bin/simrep, removed
by pip uninstall).  It is the C program itself, not a Python launcher: no
interpreter start-up (importing simrep costs over a second on a busy
machine), and signals, exit codes and stdout behave as the binary's.  An
editable install gets a two-line sh script instead, which runs the
repository's build/simrep, so `make` updates the command as it updates the
library.  Neither goes into the source distribution (BuildCommand names no
source files).

The wheel is platform-specific (cp3X-cp3X-linux_<arch>): the library links
the system's OpenBLAS, FFTW and zlib (Debian: libopenblas0, libfftw3-double3,
zlib1g), which the wheel does not carry.

The version is SIMREP_VERSION in include/simrep.h, the one place it is
written; the library returns it (simrep_version(), simrep.__version__).
"""

import os
import re
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
try:
    from setuptools.command.build_scripts import build_scripts
except ImportError:  # setuptools before 67 (a venv's bundled one) has only distutils'
    from distutils.command.build_scripts import build_scripts

ROOT = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(ROOT, "include", "simrep.h"), encoding="utf-8") as f:
        m = re.search(r'^#define SIMREP_VERSION "([^"]+)"', f.read(), re.M)
    if not m:
        raise RuntimeError("simrep: no #define SIMREP_VERSION \"...\" in include/simrep.h")
    return m.group(1)


def build(target):
    """make <target> (build/libsimrep.so, build/simrep) in the repository; its path."""
    cmd = ["make", "-C", ROOT, "-j2", target]
    try:
        subprocess.run(cmd, check=True)
    except FileNotFoundError:
        raise RuntimeError("simrep: building %s needs make and a C compiler "
                           "(Debian: tools/install-deps.sh --build)" % target) from None
    except subprocess.CalledProcessError as e:
        raise RuntimeError("simrep: `%s` failed (exit %d); the packages the library needs: "
                           "tools/install-deps.sh --build" % (" ".join(cmd), e.returncode)) from None
    return os.path.join(ROOT, target)


class BuildWithLibrary(build_py):
    def run(self):
        editable = getattr(self, "editable_mode", False)
        if not editable:  # no stale modules from an earlier build in the wheel
            shutil.rmtree(os.path.join(self.build_lib, "simrep"), ignore_errors=True)
        super().run()
        lib = build("build/libsimrep.so")
        if not editable:
            self.copy_file(lib, os.path.join(self.build_lib, "simrep", "libsimrep.so"))

    def get_outputs(self, include_bytecode=True):
        out = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            out.append(os.path.join(self.build_lib, "simrep", "libsimrep.so"))
        return out


class BuildCommand(build_scripts):
    """The `simrep` command: build/simrep copied as the script (its mode
    kept: executable), or for an editable install a sh script running the
    repository's build/simrep."""
    editable_mode = False  # set by setuptools' editable_wheel

    def finalize_options(self):
        super().finalize_options()
        self.scripts = []  # nothing copied from the sources, nothing for an sdist

    def get_source_files(self):
        return []

    def run(self):
        exe = build("build/simrep")
        self.mkpath(self.build_dir)
        out = os.path.join(self.build_dir, "simrep")
        if os.path.lexists(out):
            os.remove(out)
        if self.editable_mode:
            with open(out, "w", encoding="utf-8") as f:
                f.write("#!/bin/sh\n# simrep, editable install: the repository's CLI\nexec '%s' \"$@\"\n"
                        % exe.replace("'", "'\\''"))
            os.chmod(out, 0o755)
        else:
            self.copy_file(exe, out)
        self.outfiles = [out]

    def get_outputs(self):
        return [os.path.join(self.build_dir, "simrep")]


class BinaryDistribution(Distribution):
    """A wheel tagged for this platform and Python (it carries a compiled library)."""
    def has_ext_modules(self):
        return True


# scripts: what install_scripts needs to see to copy BuildCommand's output;
# the path is made by BuildCommand, never read from the sources.
setup(version=version(), cmdclass={"build_py": BuildWithLibrary, "build_scripts": BuildCommand},
      distclass=BinaryDistribution, scripts=["build/simrep"])
