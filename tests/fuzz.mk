## Fuzzing (libFuzzer, clang only; never part of `all`).
##
## Four targets, each next to the module whose contract it checks, with its
## seed corpus in DIR/fuzz-corpus/NAME/ (regression inputs of bugs it found
## are there too, named regress-*):
##   frame    proto/fuzz_frame.c      frame_decode (a peer's byte stream)
##   context  proto/fuzz_context.c    context, record and wire set decoders
##   merge    store/fuzz_merge.c      write deltas and the version-set merge
##   config   replication/fuzz_config.c  quorumd.conf parsing
##   mountopt fs/fuzz_mountopt.c      quorumfs's sizes and nodes= list
## `make fuzz` runs every target for FUZZ_SECONDS each, one after the other;
## `make fuzz-NAME` runs one.  The corpus grows in fuzz-run/NAME/corpus
## (kept between runs); a crash is saved in fuzz-run/NAME/ and fails the run.
## `make fuzz-check` runs them as TAP tests (scripts/test.sh, CI).  The
## targets are also compiled with the normal compiler into
## tests/unit/replay_NAME, which `make check` runs on the corpus in the
## repository: every regression input stays fixed.
FUZZ_SECONDS ?= 30
FUZZ_NAMES = frame context merge config mountopt
FUZZ_TESTS = $(FUZZ_NAMES:%=tests/fuzz/%.fuzz)
FUZZ_BINS = proto/fuzz-frame proto/fuzz-context store/fuzz-merge \
	replication/fuzz-config fs/fuzz-mountopt
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer -D_GNU_SOURCE \
	-I$(top_builddir) -I$(top_srcdir) $(PROTOBUF_C_CFLAGS)
## Compile the .c prerequisites with clang (the libraries are built by the
## configured compiler, whose sanitizer runtime is not libFuzzer's).
FUZZ_LINK = \
	if test -z "$(FUZZ_CC)"; then \
	  echo "fuzz: clang with libFuzzer not found: install the Debian" \
	    "package clang and re-run configure, or run make FUZZ_CC=clang" >&2; \
	  exit 1; \
	fi; \
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(filter %.c,$^)
FUZZ_LIB_SRC = tests/fuzz/fuzz.h lib/qerr.c lib/xalloc.c
FUZZ_CAUSAL_SRC = store/causal.c store/record.c store/record.pb-c.c \
	store/record.pb-c.h $(FUZZ_LIB_SRC)

EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/fuzz.h $(FUZZ_TESTS) proto/fuzz_frame.c \
	proto/fuzz_context.c store/fuzz_merge.c replication/fuzz_config.c \
	fs/fuzz_mountopt.c proto/fuzz-corpus store/fuzz-corpus \
	replication/fuzz-corpus fs/fuzz-corpus
CLEANFILES += $(FUZZ_BINS)
TEST_EXTENSIONS += .fuzz
FUZZ_LOG_DRIVER = $(LOG_DRIVER)
FUZZ_LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/fuzz/run.sh

## The decode memory budget is lowered so that the fuzzer also reaches
## protobuf-c's allocation-failure paths.
proto/fuzz-frame: proto/fuzz_frame.c proto/frame.c proto/frame.h \
	    proto/quorum.pb-c.c proto/quorum.pb-c.h $(FUZZ_LIB_SRC)
	$(AM_V_CC)$(FUZZ_LINK) -DFRAME_DECODE_SLACK=4096 $(PROTOBUF_C_LIBS)
proto/fuzz-context: proto/fuzz_context.c proto/wire.c proto/wire.h \
	    proto/quorum.pb-c.c proto/quorum.pb-c.h $(FUZZ_CAUSAL_SRC)
	$(AM_V_CC)$(FUZZ_LINK) $(PROTOBUF_C_LIBS) $(XXHASH_LIBS)
store/fuzz-merge: store/fuzz_merge.c $(FUZZ_CAUSAL_SRC)
	$(AM_V_CC)$(FUZZ_LINK) $(PROTOBUF_C_LIBS) $(XXHASH_LIBS)
replication/fuzz-config: replication/fuzz_config.c replication/config.c \
	    replication/config.h lib/addr.c lib/log.c lib/tls.c store/causal.c \
	    $(FUZZ_LIB_SRC)
	$(AM_V_CC)$(FUZZ_LINK) $(LIBEVENT_CFLAGS) $(INIH_CFLAGS) $(INIH_LIBS) \
	  $(OPENSSL_CFLAGS) $(OPENSSL_LIBS)
fs/fuzz-mountopt: fs/fuzz_mountopt.c fs/mountopt.c fs/mountopt.h \
	    $(FUZZ_LIB_SRC)
	$(AM_V_CC)$(FUZZ_LINK)

.PHONY: fuzz fuzz-build fuzz-check $(FUZZ_NAMES:%=fuzz-%) fuzz-clean-run
clean-local: fuzz-clean-run
fuzz-clean-run:
	-rm -rf fuzz-run

fuzz-build: $(FUZZ_BINS)

fuzz-frame: proto/fuzz-frame
fuzz-context: proto/fuzz-context
fuzz-merge: store/fuzz-merge
fuzz-config: replication/fuzz-config
fuzz-mountopt: fs/fuzz-mountopt
$(FUZZ_NAMES:%=fuzz-%):
	@FUZZ_SECONDS=$(FUZZ_SECONDS) top_srcdir=$(top_srcdir) \
	  $(SHELL) $(top_srcdir)/tests/fuzz/run.sh \
	  $(top_srcdir)/tests/fuzz/$(@:fuzz-%=%).fuzz

## Every target in turn; all run even if one fails, and then make fails.
fuzz: $(FUZZ_BINS)
	@rc=0; for t in $(FUZZ_NAMES); do \
	  $(MAKE) $(AM_MAKEFLAGS) fuzz-$$t || rc=1; \
	done; exit $$rc

fuzz-check: $(FUZZ_BINS)
	@rm -f $(FUZZ_TESTS:.fuzz=.log) $(FUZZ_TESTS:.fuzz=.trs)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) $(MAKE) $(AM_MAKEFLAGS) check \
	  TESTS="$(FUZZ_TESTS)"

## Replays of the corpus in the repository, under `make check`.
FUZZ_REPLAYS = tests/unit/replay_frame tests/unit/replay_context \
	tests/unit/replay_merge tests/unit/replay_config \
	tests/unit/replay_mountopt
check_PROGRAMS += $(FUZZ_REPLAYS)
TESTS += $(FUZZ_REPLAYS)
REPLAY_CFLAGS = $(UNIT_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_unit_replay_frame_SOURCES = tests/unit/fuzz_replay.c proto/fuzz_frame.c
tests_unit_replay_frame_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS='"proto/fuzz-corpus/frame"'
tests_unit_replay_frame_CFLAGS = $(REPLAY_CFLAGS)
tests_unit_replay_frame_LDADD = proto/libqproto.a $(CAUSAL_LIBS)
tests_unit_replay_context_SOURCES = tests/unit/fuzz_replay.c \
	proto/fuzz_context.c
tests_unit_replay_context_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS='"proto/fuzz-corpus/context"'
tests_unit_replay_context_CFLAGS = $(REPLAY_CFLAGS)
tests_unit_replay_context_LDADD = proto/libqproto.a $(CAUSAL_LIBS)
tests_unit_replay_merge_SOURCES = tests/unit/fuzz_replay.c store/fuzz_merge.c
tests_unit_replay_merge_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS='"store/fuzz-corpus/merge"'
tests_unit_replay_merge_CFLAGS = $(REPLAY_CFLAGS)
tests_unit_replay_merge_LDADD = $(CAUSAL_LIBS)
tests_unit_replay_config_SOURCES = tests/unit/fuzz_replay.c \
	replication/fuzz_config.c
tests_unit_replay_config_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS='"replication/fuzz-corpus/config"'
tests_unit_replay_config_CFLAGS = $(REPLAY_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_replay_config_LDADD = replication/libqrepl.a $(CAUSAL_LIBS) \
	$(INIH_LIBS) $(OPENSSL_LIBS)
tests_unit_replay_mountopt_SOURCES = tests/unit/fuzz_replay.c \
	fs/fuzz_mountopt.c
tests_unit_replay_mountopt_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS='"fs/fuzz-corpus/mountopt"'
tests_unit_replay_mountopt_CFLAGS = $(REPLAY_CFLAGS)
tests_unit_replay_mountopt_LDADD = fs/libqfsview.a lib/libqutil.a

## The parser bugs fuzz-config found, as unit tests too.
check_PROGRAMS += tests/unit/test_config
TESTS += tests/unit/test_config
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_config_LDADD = replication/libqrepl.a $(CAUSAL_LIBS) \
	$(INIH_LIBS) $(OPENSSL_LIBS) $(UNIT_LIBS)

## The merge fuzzer's client contexts against a real cluster.
TESTS += tests/sh/t0331-bad-contexts.sh
EXTRA_DIST += tests/sh/t0331-bad-contexts.sh
