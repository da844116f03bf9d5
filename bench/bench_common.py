"""What the bench scripts share: the launcher that measures a child's own
peak RSS, the inputs they write, and the DSYRK floor.

Import this before numpy (the launcher is forked at import, while the
process is still small: see below); numpy is imported inside the functions
that need it.
"""

import ctypes
import ctypes.util
import json
import os
import subprocess
import time

# ------------------------------------------------------------------ launcher
# Peak RSS of a child.  ru_maxrss of a process started from this one is
# wrong: Python's subprocess uses vfork, and at exec Linux records the
# high-water RSS of the mm it leaves (this process's, with its GBs of numpy
# arrays) into the child's maxrss.  A fork after the arrays exist is no
# better (the copied mm starts at the parent's RSS).  So the simrep runs are
# started by a small launcher process forked here, before numpy is imported
# (~10 MiB resident), which fork-execs simrep and reports os.wait4's rusage.

def _launcher_loop(fin, fout):
    import tempfile as _tf
    for line in fin:
        cmd = json.loads(line)
        with _tf.TemporaryFile() as out, _tf.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            out.seek(0)
            err.seek(0)
            fout.write(json.dumps({"code": os.waitstatus_to_exitcode(status), "wall": wall,
                                   "maxrss_kib": usage.ru_maxrss,
                                   "cpu": usage.ru_utime + usage.ru_stime,
                                   "stdout": out.read().decode(errors="replace"),
                                   "stderr": err.read().decode(errors="replace")}) + "\n")
            fout.flush()
    os._exit(0)


def start_launcher():
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w1)
        os.close(r2)
        try:
            _launcher_loop(os.fdopen(r1), os.fdopen(w2, "w"))
        finally:
            os._exit(0)
    os.close(r1)
    os.close(w2)
    return pid, os.fdopen(w1, "w"), os.fdopen(r2)


LAUNCHER = start_launcher()


def launch(cmd):
    _, to, frm = LAUNCHER
    to.write(json.dumps([str(c) for c in cmd]) + "\n")
    to.flush()
    return json.loads(frm.readline())


def stop_launcher():
    pid, to, frm = LAUNCHER
    to.close()
    os.waitpid(pid, 0)



def write_inputs(d, p, q, n, seed=0):
    """Correlated float32 activations, written in row chunks so the float64
    intermediates stay small."""
    import numpy as np
    rng = np.random.default_rng(seed)
    r = min(p, q) // 2
    a = rng.standard_normal((r, p)) / np.sqrt(r)
    b = rng.standard_normal((r, q)) / np.sqrt(r)
    fx, fy = d / ("x_%d_%d.npy" % (p, n)), d / ("y_%d_%d.npy" % (q, n))
    x = np.lib.format.open_memmap(fx, mode="w+", dtype="<f4", shape=(n, p))
    y = np.lib.format.open_memmap(fy, mode="w+", dtype="<f4", shape=(n, q))
    step = 5000
    for i in range(0, n, step):
        m = min(step, n - i)
        z = rng.standard_normal((m, r))
        x[i:i + m] = np.maximum(z @ a + 0.5 * rng.standard_normal((m, p)) + 0.1, 0)
        y[i:i + m] = np.tanh(z @ b + 0.5 * rng.standard_normal((m, q)))
    x.flush()
    y.flush()
    del x, y
    return fx, fy


def load_dsyrk():
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            return lib.dsyrk_, name
        except (OSError, AttributeError):
            continue
    return None, None


DSYRK, BLAS_LIB = load_dsyrk()


def syrk(z):
    """C = Zᵀ Z (upper triangle) for a Fortran-order float64 n x m Z."""
    import numpy as np
    assert z.flags.f_contiguous and z.dtype == np.float64
    n, m = z.shape
    c = np.zeros((m, m), order="F")
    if DSYRK is None:  # fallback: numpy's matmul of a transposed self-product
        return z.T @ z
    i = ctypes.c_int
    d = ctypes.c_double
    DSYRK(ctypes.c_char_p(b"U"), ctypes.c_char_p(b"T"), ctypes.byref(i(m)), ctypes.byref(i(n)),
          ctypes.byref(d(1.0)), z.ctypes.data_as(ctypes.c_void_p), ctypes.byref(i(n)),
          ctypes.byref(d(0.0)), c.ctypes.data_as(ctypes.c_void_p), ctypes.byref(i(m)),
          ctypes.c_size_t(1), ctypes.c_size_t(1))
    return c


