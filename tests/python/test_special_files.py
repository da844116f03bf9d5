"""Files that cannot be read by offset (issue 10, item 4): a FIFO with no
writer made compare, info and matrix block forever in open().  Every place
that opens a file (an input of compare as X or Y, info, a manifest row, the
manifest itself, a token mask) now refuses a pipe, a device or a socket at
once: exit 1, one line naming the file and what it is.
"""

import os
import socket

import numpy as np
import pytest

from conftest import SANITIZED, assert_error, run, write_npy

FAST = 5.0 if SANITIZED else 2.0  # a hang is the failure; the answer takes milliseconds


def fifo(tmp_path):
    p = tmp_path / "pipe.npy"
    os.mkfifo(p)
    return p, "pipe"


def fifo_with_writer(tmp_path):
    """A writer that holds the pipe open and never writes."""
    p, what = fifo(tmp_path)
    fd = os.open(p, os.O_RDWR)  # keeps a writer end open (Linux)
    fifo_with_writer.keep = fd
    return p, what


def char_device(tmp_path):
    return "/dev/zero", "character device"


def null_device(tmp_path):
    return "/dev/null", "character device"


def unix_socket(tmp_path):
    p = tmp_path / "sock.npy"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(p))
    unix_socket.keep = s
    return p, "socket"


KINDS = [fifo, fifo_with_writer, char_device, null_device, unix_socket]


@pytest.fixture
def good(tmp_path):
    r = np.random.default_rng(0)
    return write_npy(tmp_path / "good.npy", r.standard_normal((50, 3)))


def uses(tmp_path, good, special):
    (tmp_path / "m.csv").write_text("name,path\na,%s\nb,%s\n" % (good, special))
    return [
        ("compare X", ("compare", special, good)),
        ("compare Y", ("compare", good, special)),
        ("info", ("info", special)),
        ("matrix row", ("matrix", "--manifest", tmp_path / "m.csv")),
        ("matrix manifest", ("matrix", "--manifest", special)),
    ]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_special_file_refused_at_once(tmp_path, good, kind):
    special, what = kind(tmp_path)
    for name, args in uses(tmp_path, good, special):
        r = run(*args, timeout=30)
        assert_error(r, 1, names=special, contains=("regular file",))
        assert r.elapsed < FAST, (name, r)
        if "manifest" not in name:
            assert what in r.stderr, (name, r)
