#!/bin/sh
# Install the Debian packages simrep needs to build, test and run its demo,
# but only those that are missing (so a machine that has them needs no root
# and no network).  Called by `make deps`, `make check` and `make demo`.
# (`make fuzz` also needs clang and libclang-rt-14-dev; `make check` does not:
# it replays the fuzz corpus with gcc-built programs.  `make findings` passes
# dataset-fashion-mnist as an argument: extra packages to install if missing.)
# With --build first, only what building and running the CLI needs (make demo:
# no Python, no torch).
set -e
PKGS="gcc make libopenblas-dev liblapacke-dev libfftw3-dev zlib1g-dev"
PKGS="$PKGS libopenmpi-dev openmpi-bin"  # simrep compare/matrix across MPI ranks (mpirun, srun)
if [ "${1:-}" = "--build" ]; then
    shift
else
    PKGS="$PKGS python3-numpy python3-pytest valgrind"
    PKGS="$PKGS python3-torch"  # simrep.torch and the Python package's tests
    PKGS="$PKGS python3-sklearn"  # load_digits for tests/findings (make check)
    PKGS="$PKGS python3-mpi4py"  # simrep.Moments.allreduce and its test (make check-mpi)
    PKGS="$PKGS python3-scipy time"  # KS test of the permutation p-values (make check-pkg); peak RSS in bench/bench_stats.py
    # pip install . / -e . and python3 -m build --wheel, offline (make check-install)
    PKGS="$PKGS python3-pip python3-venv python3-setuptools python3-wheel python3-build"
    # Figures: simrep.plot's ax= (matplotlib, also the tests' text measurer), PNG copies (rsvg-convert),
    # the font the figures are measured in (Liberation Sans = Helvetica/Arial metrics), and the
    # headless browser that renders DIR/index.html in tests/python/test_figures.py.
    PKGS="$PKGS python3-matplotlib librsvg2-bin fonts-liberation chromium"
    PKGS="$PKGS strace"  # tests/python_pkg/test_moments_measures.py counts matrix's reads
fi
PKGS="$PKGS $*"  # what one target needs beyond these (make findings: dataset-fashion-mnist)
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "simrep: installing missing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
