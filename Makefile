# simrep build: the library (build/libsimrep.a, build/libsimrep.so), the CLI
# (build/simrep), the C unit tests, and a sanitizer build (build/asan/) of
# the same.  `make check` runs everything CI runs; `make demo` runs the main
# job on the bundled example data.  Both install missing Debian packages
# first (tools/install-deps.sh).
CC      ?= gcc
PY      := /usr/bin/python3
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter
CPPFLAGS := -Iinclude -D_FILE_OFFSET_BITS=64 -D_POSIX_C_SOURCE=200809L
LIBS    := -lopenblas -lfftw3 -lz -lm -lpthread
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# MPI (cli/parallel.c: compare and matrix across ranks under mpirun or
# srun): when Open MPI's mpicc is installed (tools/install-deps.sh installs
# it), that one file is compiled by it with SIMREP_WITH_MPI and the CLI is
# linked by it; otherwise the same sources give a single-process CLI.  The
# library never sees MPI.  `make MPICC=` builds without.
MPICC   ?= $(shell command -v mpicc 2>/dev/null)
CLI_LD  := $(if $(MPICC),$(MPICC),$(CC))

LIB_SRC  := $(sort $(wildcard src/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
HDRS     := include/simrep.h $(wildcard src/*.h) $(wildcard cli/*.h) $(wildcard tests/unit/*.h)

B := build
A := $(B)/asan

LIB_OBJ      := $(LIB_SRC:src/%.c=$(B)/obj/%.o)
LIB_PIC_OBJ  := $(LIB_SRC:src/%.c=$(B)/pic/%.o)
CLI_OBJ      := $(CLI_SRC:cli/%.c=$(B)/obj/cli_%.o)
TEST_OBJ     := $(TEST_SRC:tests/unit/%.c=$(B)/obj/test_%.o)
ALIB_OBJ     := $(LIB_SRC:src/%.c=$(A)/obj/%.o)
ACLI_OBJ     := $(CLI_SRC:cli/%.c=$(A)/obj/cli_%.o)
ATEST_OBJ    := $(TEST_SRC:tests/unit/%.c=$(A)/obj/test_%.o)

.PHONY: all deps check check-unit check-python check-asan check-fuzz check-valgrind fuzz demo bench clean

all: $(B)/simrep $(B)/libsimrep.so $(B)/test_unit

deps:
	@tools/install-deps.sh

$(B)/obj/%.o: src/%.c $(HDRS) | $(B)/obj
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -c $< -o $@
$(B)/pic/%.o: src/%.c $(HDRS) | $(B)/pic
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -fPIC -c $< -o $@
$(B)/obj/cli_%.o: cli/%.c $(HDRS) | $(B)/obj
	$(CC) $(WARN) $(CFLAGS) -Iinclude -D_POSIX_C_SOURCE=200809L -c $< -o $@
$(B)/obj/cli_parallel.o: cli/parallel.c $(HDRS) | $(B)/obj
	$(if $(MPICC),$(MPICC) -DSIMREP_WITH_MPI,$(CC)) $(WARN) $(CFLAGS) -Iinclude -D_POSIX_C_SOURCE=200809L -c $< -o $@
$(B)/obj/test_%.o: tests/unit/%.c $(HDRS) | $(B)/obj
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Isrc -c $< -o $@

$(B)/libsimrep.a: $(LIB_OBJ)
	ar rcs $@ $^
$(B)/libsimrep.so: $(LIB_PIC_OBJ)
	$(CC) -shared -o $@ $^ $(LIBS)
$(B)/simrep: $(CLI_OBJ) $(B)/libsimrep.a
	$(CLI_LD) -o $@ $(CLI_OBJ) $(B)/libsimrep.a $(LIBS)
$(B)/test_unit: $(TEST_OBJ) $(B)/libsimrep.a
	$(CC) -o $@ $(TEST_OBJ) $(B)/libsimrep.a $(LIBS)

$(A)/obj/%.o: src/%.c $(HDRS) | $(A)/obj
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) -c $< -o $@
$(A)/obj/cli_%.o: cli/%.c $(HDRS) | $(A)/obj
	$(CC) $(WARN) -O1 -g $(SAN) -Iinclude -D_POSIX_C_SOURCE=200809L -c $< -o $@
$(A)/obj/test_%.o: tests/unit/%.c $(HDRS) | $(A)/obj
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) -Isrc -c $< -o $@
$(A)/simrep: $(ACLI_OBJ) $(ALIB_OBJ)
	$(CC) $(SAN) -o $@ $^ $(LIBS)
$(A)/test_unit: $(ATEST_OBJ) $(ALIB_OBJ)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

$(B)/obj $(B)/pic $(A)/obj $(B)/fuzz $(A)/fuzz:
	mkdir -p $@

# Fuzz targets (fuzz/fuzz_NAME.c, one per parser).  `make fuzz` builds the
# libFuzzer binaries $(B)/fuzz/fuzz_NAME with clang; every target is also
# linked with fuzz/replay.c into a plain program, $(B)/fuzz/replay_NAME (and
# the ASan build's), which check-fuzz runs over the seed corpus and the saved
# crash regressions.  FUZZ_EXTRA_NAME: sources a target needs beyond the library.
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_EXTRA_manifest := cli/manifest.c
REPLAY       := $(FUZZ_TARGETS:%=$(B)/fuzz/replay_%)
AREPLAY      := $(FUZZ_TARGETS:%=$(A)/fuzz/replay_%)

$(B)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz_common.h $(B)/libsimrep.a | $(B)/fuzz
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Isrc -o $@ $< fuzz/replay.c $(FUZZ_EXTRA_$*) $(B)/libsimrep.a $(LIBS)
$(A)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz_common.h $(ALIB_OBJ) | $(A)/fuzz
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) -Isrc -o $@ $< fuzz/replay.c $(FUZZ_EXTRA_$*) $(ALIB_OBJ) $(LIBS)
$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(LIB_SRC) $(HDRS) | $(B)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(CPPFLAGS) -Isrc -o $@ $< $(FUZZ_EXTRA_$*) $(LIB_SRC) $(LIBS)

fuzz: $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

# The C unit tests, the Python/numpy tests of the CLI, then both again on the
# AddressSanitizer + UndefinedBehaviorSanitizer build.
check: deps
	$(MAKE) all $(A)/simrep $(A)/test_unit $(REPLAY) $(AREPLAY)
	$(MAKE) check-docs check-unit check-python check-asan check-fuzz check-valgrind check-mpi
	$(MAKE) check-pkg check-install
	$(MAKE) check-findings check-validate

# The Python package's tests (tests/python_pkg) against this build's library
# and CLI.  Not on the sanitizer build: an ASan libsimrep.so only loads into a
# Python started with the ASan runtime preloaded; check-asan covers the
# library code there.
.PHONY: check-pkg install-python
check-pkg:
	OPENBLAS_NUM_THREADS=1 SIMREP_LIBRARY=$(abspath $(B)/libsimrep.so) SIMREP_BIN=$(abspath $(B)/simrep) \
		PYTHONPATH=python $(PY) -m pytest -q tests/python_pkg

# pip install . / pip install -e . into fresh venvs, python3 -m build
# --wheel and its install, each imported from outside the tree and
# uninstalled (tests/install; offline, Debian's setuptools/wheel/build).
.PHONY: check-install
check-install: $(B)/libsimrep.so
	$(PY) -m pytest -q tests/install

# The Python package with the library inside it (simrep/libsimrep.so, found
# first by the package): `make install-python PREFIX=/usr/local` puts it on
# Debian's /usr/bin/python3 path; any other PYSITE needs PYTHONPATH.
PREFIX ?= /usr/local
PYSITE ?= $(PREFIX)/lib/python$(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages
install-python: $(B)/libsimrep.so
	mkdir -p $(DESTDIR)$(PYSITE)/simrep/compat
	cp python/simrep/*.py $(DESTDIR)$(PYSITE)/simrep/
	cp python/simrep/compat/*.py $(DESTDIR)$(PYSITE)/simrep/compat/
	cp $(B)/libsimrep.so $(DESTDIR)$(PYSITE)/simrep/libsimrep.so

# The findings pipeline (examples/findings) on a reduced config: trains small
# MLPs on scikit-learn's digits and asserts findings 1 and 2 (about a minute).
.PHONY: check-findings findings
check-findings:
	OPENBLAS_NUM_THREADS=1 SIMREP_LIBRARY=$(abspath $(B)/libsimrep.so) SIMREP_BIN=$(abspath $(B)/simrep) \
		PYTHONPATH=python $(PY) -m pytest -q tests/findings

# The findings report (examples/findings/report/) and the demo's activations
# (examples/data/) from networks trained here on Fashion-MNIST (Debian's
# dataset-fashion-mnist, installed if missing); under 10 minutes on 2 cores.
findings:
	@tools/install-deps.sh dataset-fashion-mnist
	$(MAKE) $(B)/simrep $(B)/libsimrep.so
	OPENBLAS_NUM_THREADS=1 SIMREP_LIBRARY=$(abspath $(B)/libsimrep.so) SIMREP_BIN=$(abspath $(B)/simrep) \
		$(PY) examples/findings/run.py --work $(B)/findings --demo-data examples/data

# The benchmark of the measures (examples/validate, docs/validate.md):
# Ding et al.'s and ReSi's tests on networks trained here, every measure of
# the registry through simrep validate, report in examples/validate/report/
# (under 15 minutes on 2 cores); check-validate runs its ci config on
# scikit-learn's digits (a minute of CPU) and checks the pipeline's numbers.
.PHONY: check-validate validate
check-validate:
	OPENBLAS_NUM_THREADS=1 SIMREP_LIBRARY=$(abspath $(B)/libsimrep.so) SIMREP_BIN=$(abspath $(B)/simrep) \
		PYTHONPATH=python $(PY) -m pytest -q tests/validate
validate:
	@tools/install-deps.sh dataset-fashion-mnist
	$(MAKE) $(B)/simrep $(B)/libsimrep.so
	OPENBLAS_NUM_THREADS=1 SIMREP_LIBRARY=$(abspath $(B)/libsimrep.so) SIMREP_BIN=$(abspath $(B)/simrep) \
		nice -n 10 $(PY) examples/validate/run.py --work $(B)/validate

# README.md and docs/*.md: every relative link resolves, README under 250
# lines, nothing in the repository reads from outside it (check_docs.py),
# and every ```sh / ```python example runs against this build (tests/docs).
.PHONY: check-docs
check-docs: $(B)/simrep $(B)/libsimrep.so
	$(PY) tools/check_docs.py
	SIMREP_BIN=$(abspath $(B)/simrep) SIMREP_LIBRARY=$(abspath $(B)/libsimrep.so) $(PY) -m pytest -q tests/docs

check-unit:
	OPENBLAS_NUM_THREADS=1 $(B)/test_unit

# compare and matrix under mpirun -np 3/4 against the same binary alone,
# failures on one rank, Moments.allreduce with mpi4py (tests/mpi; ~30 s).
# Skipped (with a note) when this build has no MPI.
.PHONY: check-mpi
check-mpi: $(B)/simrep $(B)/libsimrep.so
	@if [ -z "$(MPICC)" ]; then echo "check-mpi: skipped (no mpicc: built without MPI)"; else \
		SIMREP_BIN=$(abspath $(B)/simrep) SIMREP_LIBRARY=$(abspath $(B)/libsimrep.so) \
		$(PY) -m pytest -q tests/mpi; fi

check-python:
	OPENBLAS_NUM_THREADS=1 SIMREP_BIN=$(B)/simrep $(PY) -m pytest -q tests/python

check-asan:
	ASAN_OPTIONS=detect_leaks=1 OPENBLAS_NUM_THREADS=1 $(A)/test_unit
	ASAN_OPTIONS=detect_leaks=1 OPENBLAS_NUM_THREADS=1 SIMREP_BIN=$(A)/simrep SIMREP_SANITIZED=1 \
		$(PY) -m pytest -q tests/python

# The fuzz corpus and regressions through every target, plain and ASan (a
# failure is rerun with -v, which names each input before running it).
check-fuzz:
	@for t in $(FUZZ_TARGETS); do \
		set -e; dirs="fuzz/corpus/$$t $$(ls -d fuzz/regressions/$$t 2>/dev/null || true)"; \
		echo "replay $$t: $$dirs"; \
		$(B)/fuzz/replay_$$t $$dirs || { $(B)/fuzz/replay_$$t -v $$dirs; exit 1; }; \
		ASAN_OPTIONS=detect_leaks=1 $(A)/fuzz/replay_$$t $$dirs || \
			{ ASAN_OPTIONS=detect_leaks=1 $(A)/fuzz/replay_$$t -v $$dirs; exit 1; }; \
	done

# Valgrind memcheck (what ASan does not see: reads of uninitialized memory)
# on a fast subset: the input, moments and allocation-failure suites, the
# corpus replay of every parser, and a few CLI calls on the example data.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
check-valgrind:
	SIMREP_TEST_SUITES=io,moments,alloc,edge OPENBLAS_NUM_THREADS=1 $(VALGRIND) $(B)/test_unit
	@for t in $(FUZZ_TARGETS); do \
		set -e; $(VALGRIND) $(B)/fuzz/replay_$$t fuzz/corpus/$$t $$(ls -d fuzz/regressions/$$t 2>/dev/null || true); \
	done
	OPENBLAS_NUM_THREADS=1 $(VALGRIND) $(B)/simrep compare -m cca,cca_r2,svcca,pwcca,cka,cka_debiased,procrustes \
		examples/data/gen0.npz:relu1 examples/data/mem0.npz:relu2 >/dev/null
	OPENBLAS_NUM_THREADS=1 $(VALGRIND) $(B)/simrep compare -m all+kernel --knn 2 --format json \
		fuzz/corpus/npy/f8_fortran.npy fuzz/corpus/npz/zip64_full_deflated.npz:b >/dev/null
	OPENBLAS_NUM_THREADS=1 $(VALGRIND) $(B)/simrep info examples/data/gen0.npz >/dev/null
	OPENBLAS_NUM_THREADS=1 $(VALGRIND) $(B)/simrep compare fuzz/corpus/npy/nan.npy fuzz/corpus/npy/nan.npy 2>/dev/null; \
		test $$? -eq 1

demo:
	@tools/install-deps.sh --build
	$(MAKE) $(B)/simrep
	@examples/demo.sh

bench: deps
	$(MAKE) $(B)/simrep
	$(PY) bench/bench_compare.py

clean:
	rm -rf $(B) python/simrep.egg-info dist
