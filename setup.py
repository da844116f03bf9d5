"""The build step pyproject.toml's setuptools backend runs: the pure-Python
package from python/simrep plus libsimrep.so, built by the Makefile from
src/ (`make build/libsimrep.so`, so an up-to-date library from an earlier
`make` is reused) and copied into the package (simrep/libsimrep.so, the
first place simrep/_native.py looks).  An editable install (pip install -e)
builds the library too but copies nothing: the package in python/ finds
build/libsimrep.so by its repository path.

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

ROOT = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(ROOT, "include", "simrep.h"), encoding="utf-8") as f:
        m = re.search(r'^#define SIMREP_VERSION "([^"]+)"', f.read(), re.M)
    if not m:
        raise RuntimeError("simrep: no #define SIMREP_VERSION \"...\" in include/simrep.h")
    return m.group(1)


def build_library():
    """make build/libsimrep.so in the repository; its path."""
    cmd = ["make", "-C", ROOT, "-j2", "build/libsimrep.so"]
    try:
        subprocess.run(cmd, check=True)
    except FileNotFoundError:
        raise RuntimeError("simrep: building libsimrep.so needs make and a C compiler "
                           "(Debian: tools/install-deps.sh --build)") from None
    except subprocess.CalledProcessError as e:
        raise RuntimeError("simrep: `%s` failed (exit %d); the packages the library needs: "
                           "tools/install-deps.sh --build" % (" ".join(cmd), e.returncode)) from None
    return os.path.join(ROOT, "build", "libsimrep.so")


class BuildWithLibrary(build_py):
    def run(self):
        editable = getattr(self, "editable_mode", False)
        if not editable:  # no stale modules from an earlier build in the wheel
            shutil.rmtree(os.path.join(self.build_lib, "simrep"), ignore_errors=True)
        super().run()
        lib = build_library()
        if not editable:
            self.copy_file(lib, os.path.join(self.build_lib, "simrep", "libsimrep.so"))

    def get_outputs(self, include_bytecode=True):
        out = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            out.append(os.path.join(self.build_lib, "simrep", "libsimrep.so"))
        return out


class BinaryDistribution(Distribution):
    """A wheel tagged for this platform and Python (it carries a compiled library)."""
    def has_ext_modules(self):
        return True


setup(version=version(), cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
