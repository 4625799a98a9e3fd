## proto/: wire schema and framing.
noinst_LIBRARIES += proto/libqproto.a
proto_libqproto_a_SOURCES = proto/frame.c proto/frame.h proto/wire.c proto/wire.h
nodist_proto_libqproto_a_SOURCES = proto/quorum.pb-c.c proto/quorum.pb-c.h
proto_libqproto_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
BUILT_SOURCES += proto/quorum.pb-c.h
CLEANFILES += proto/quorum.pb-c.c proto/quorum.pb-c.h
EXTRA_DIST += proto/quorum.proto proto/fuzz_frame.c $(PROTO_FUZZ_SEEDS)

check_PROGRAMS += tests/unit/test_frame
TESTS += tests/unit/test_frame
tests_unit_test_frame_SOURCES = tests/unit/test_frame.c
tests_unit_test_frame_CFLAGS = $(UNIT_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_unit_test_frame_LDADD = proto/libqproto.a $(CAUSAL_LIBS) $(UNIT_LIBS)

## Fuzzing frame_decode with libFuzzer (clang only, never part of `all`):
## `make fuzz-frame` builds proto/fuzz-frame; `make fuzz` runs it for
## FUZZ_SECONDS on proto/fuzz-run/corpus, a corpus kept between runs and
## refreshed from the seeds in proto/fuzz-corpus/.  Crashes are written to
## proto/fuzz-run/.  The decode memory budget is lowered so that the fuzzer
## also reaches protobuf-c's allocation-failure paths.
FUZZ_SECONDS ?= 30
PROTO_FUZZ_SEEDS = proto/fuzz-corpus/get.bin proto/fuzz-corpus/put.bin \
	proto/fuzz-corpus/replica-write.bin proto/fuzz-corpus/gossip.bin \
	proto/fuzz-corpus/hint-batch.bin proto/fuzz-corpus/stats.bin \
	proto/fuzz-corpus/error.bin proto/fuzz-corpus/two-frames.bin
PROTO_FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	-DFRAME_DECODE_SLACK=4096 -D_GNU_SOURCE \
	-I$(top_builddir) -I$(top_srcdir) $(PROTOBUF_C_CFLAGS)
CLEANFILES += proto/fuzz-frame
.PHONY: fuzz fuzz-frame proto-clean-fuzz
clean-local: proto-clean-fuzz
proto-clean-fuzz:
	-rm -rf proto/fuzz-run

proto/fuzz-frame: proto/fuzz_frame.c proto/frame.c proto/frame.h \
	    proto/quorum.pb-c.c proto/quorum.pb-c.h lib/qerr.c lib/xalloc.c
	@if test -z "$(FUZZ_CC)"; then \
	  echo "fuzz: clang with libFuzzer not found: install the Debian" \
	    "package clang and re-run configure, or run make FUZZ_CC=clang" >&2; \
	  exit 1; \
	fi
	$(AM_V_CC)$(FUZZ_CC) $(PROTO_FUZZ_FLAGS) -o $@ \
	  $(filter %.c,$^) $(PROTOBUF_C_LIBS)

fuzz-frame: proto/fuzz-frame

fuzz: proto/fuzz-frame
	@$(MKDIR_P) proto/fuzz-run/corpus
	@cp $(addprefix $(srcdir)/,$(PROTO_FUZZ_SEEDS)) proto/fuzz-run/corpus/
	@echo "fuzz: running proto/fuzz-frame for $(FUZZ_SECONDS)s"
	@rc=0; ./proto/fuzz-frame -max_total_time=$(FUZZ_SECONDS) \
	  -print_final_stats=1 -artifact_prefix=proto/fuzz-run/ \
	  proto/fuzz-run/corpus >proto/fuzz-run/log 2>&1 || rc=$$?; \
	tail -n 30 proto/fuzz-run/log; \
	execs=`sed -n 's/^stat::number_of_executed_units: *//p' proto/fuzz-run/log`; \
	echo "fuzz: frame_decode ran $${execs:-?} inputs, exit status $$rc"; \
	exit $$rc
