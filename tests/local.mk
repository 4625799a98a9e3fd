## tests/: every test speaks TAP and runs under automake's tap-driver.sh.
## Unit tests are cmocka programs (one group each, TAP output); integration
## tests are shell scripts (tests/sh/*.sh) driving the real binaries.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_builddir='$(abs_top_builddir)'; top_srcdir='$(abs_top_srcdir)'; \
	export top_builddir top_srcdir; \
	CMOCKA_MESSAGE_OUTPUT=TAP; export CMOCKA_MESSAGE_OUTPUT;

UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
UNIT_LIBS = $(CMOCKA_LIBS)

EXTRA_DIST += tests/sh/lib.sh tests/sh/lib-abuse.sh tests/abuse.py \
	tests/unit/tmpdir.h

check_PROGRAMS += tests/unit/test_causal tests/unit/test_key tests/unit/test_store
TESTS += tests/unit/test_causal tests/unit/test_key tests/unit/test_store
tests_unit_test_causal_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_causal_LDADD = $(STORE_LIBS) $(UNIT_LIBS)
tests_unit_test_key_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_key_LDADD = $(STORE_LIBS) $(UNIT_LIBS)
tests_unit_test_store_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_store_LDADD = $(STORE_LIBS) $(UNIT_LIBS)

check_PROGRAMS += tests/unit/test_logcut
TESTS += tests/unit/test_logcut
tests_unit_test_logcut_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_logcut_LDADD = $(STORE_LIBS) $(UNIT_LIBS)
check_PROGRAMS += tests/unit/test_crc32c
TESTS += tests/unit/test_crc32c
tests_unit_test_crc32c_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_crc32c_LDADD = $(STORE_LIBS) $(UNIT_LIBS)

check_PROGRAMS += tests/unit/test_hugemem
TESTS += tests/unit/test_hugemem
tests_unit_test_hugemem_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_hugemem_LDADD = lib/libqutil.a $(UNIT_LIBS)

check_PROGRAMS += tests/unit/test_capacity
TESTS += tests/unit/test_capacity
tests_unit_test_capacity_CFLAGS = $(UNIT_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_unit_test_capacity_LDADD = $(CLIENT_LIBS) $(UNIT_LIBS)

check_PROGRAMS += tests/unit/test_fdio
TESTS += tests/unit/test_fdio
tests_unit_test_fdio_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_fdio_LDADD = lib/libqutil.a $(UNIT_LIBS) -lpthread

## Integration tests: real quorumd processes on loopback (tests/sh/lib.sh).
SH_TESTS = tests/sh/t0300-cluster-basic.sh \
	tests/sh/t0310-five-nodes.sh tests/sh/t0320-read-repair.sh \
	tests/sh/t0330-bad-clients.sh tests/sh/t0340-lifecycle.sh \
	tests/sh/t0335-limits.sh tests/sh/t0336-slowloris.sh \
	tests/sh/t0337-noread.sh tests/sh/t0338-conn-flood.sh \
	tests/sh/t0339-garbage-load.sh \
	tests/sh/t0341-abuse-penalty.sh \
	tests/sh/t0350-quorumctl.sh tests/sh/t0355-leveldb-bench.sh \
	tests/sh/t0400-hinted-handoff.sh tests/sh/t0401-hints-three.sh \
	tests/sh/t0402-hint-limit.sh \
	tests/sh/t0410-anti-entropy.sh \
	tests/sh/t0415-tombstones.sh tests/sh/t0420-partition.sh \
	tests/sh/t0500-join-leave.sh tests/sh/t0510-cleanup.sh \
	tests/sh/t0652-disk-full.sh
TESTS += $(SH_TESTS)
EXTRA_DIST += $(SH_TESTS)

check_PROGRAMS += tests/unit/test_ring
TESTS += tests/unit/test_ring
tests_unit_test_ring_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ring_LDADD = replication/libqrepl.a $(CAUSAL_LIBS) $(UNIT_LIBS)

check_PROGRAMS += tests/unit/test_cluster
TESTS += tests/unit/test_cluster
tests_unit_test_cluster_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cluster_LDADD = replication/libqrepl.a $(CAUSAL_LIBS) $(UNIT_LIBS)

check_PROGRAMS += tests/unit/test_hints
TESTS += tests/unit/test_hints
tests_unit_test_hints_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_hints_LDADD = $(STORE_LIBS) $(UNIT_LIBS)

check_PROGRAMS += tests/unit/test_merkle
TESTS += tests/unit/test_merkle
tests_unit_test_merkle_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_merkle_LDADD = replication/libqrepl.a $(CAUSAL_LIBS) $(UNIT_LIBS)

## Fault tests with a workload driver (tests/jepsen/qjepsen) and a history
## checker (tests/jepsen/check.py); see tests/jepsen/README.md.
check_PROGRAMS += tests/jepsen/qjepsen
tests_jepsen_qjepsen_SOURCES = tests/jepsen/qjepsen.c
tests_jepsen_qjepsen_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_jepsen_qjepsen_LDADD = $(CLIENT_LIBS)
FAULT_TESTS = tests/sh/t0430-kill-under-load.sh \
	tests/sh/t0440-pause-resume.sh tests/sh/t0450-partition-heal.sh \
	tests/sh/t0455-retry-probe.sh tests/sh/t0456-forward-unsent.sh \
	tests/sh/t0475-hints-left.sh tests/sh/t0460-wipe-rebuild.sh \
	tests/sh/t0470-hints-restart.sh \
	tests/sh/t0480-jepsen.sh tests/sh/t0490-jepsen-checker.sh
TESTS += $(FAULT_TESTS)
EXTRA_DIST += $(FAULT_TESTS) tests/jepsen/check.py \
	tests/jepsen/lib-jepsen.sh tests/jepsen/README.md
JEPSEN_SECONDS ?= 600
.PHONY: jepsen-long
jepsen-long: quorumd quorumctl tests/jepsen/qjepsen
	JEPSEN_SECONDS=$(JEPSEN_SECONDS) top_builddir='$(abs_top_builddir)' \
	  top_srcdir='$(abs_top_srcdir)' $(SHELL) $(top_srcdir)/tests/sh/t0480-jepsen.sh

## The filesystem: real quorumfs mounts (FUSE) on real clusters.
FS_TESTS = tests/sh/t0600-fs-basic.sh tests/sh/t0610-fs-files.sh \
	tests/sh/t0620-fs-failures.sh tests/sh/t0621-fs-failed-writes.sh \
	tests/sh/t0630-fs-conflicts.sh \
	tests/sh/t0640-fs-cache.sh tests/sh/t0645-fs-lookups.sh \
	tests/sh/t0646-fs-missing-names.sh tests/sh/t0647-fs-reads.sh \
	tests/sh/t0648-fs-create-requests.sh \
	tests/sh/t0650-fs-df.sh
TESTS += $(FS_TESTS)
EXTRA_DIST += $(FS_TESTS) tests/sh/lib-fs.sh

## The filesystem benchmark's workload (scripts/bench-fs.sh, docs/bench-fs.md):
## built by make, never run by make check.
noinst_PROGRAMS += tests/bench/fsbench
tests_bench_fsbench_SOURCES = tests/bench/fsbench.c
tests_bench_fsbench_LDADD = lib/libqutil.a

## Security: TLS between nodes and for clients (lib/tls.h), the mount's
## permissions as an unprivileged user.
SECURITY_TESTS = tests/sh/t0700-tls.sh tests/sh/t0710-tls-fs.sh \
	tests/sh/t0720-fs-unprivileged.sh
TESTS += $(SECURITY_TESTS)
EXTRA_DIST += $(SECURITY_TESTS)
check_PROGRAMS += tests/unit/test_guard
TESTS += tests/unit/test_guard
tests_unit_test_guard_CFLAGS = $(UNIT_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_guard_LDADD = replication/libqrepl.a $(UNIT_LIBS)
