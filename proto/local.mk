## proto/: wire schema and framing.
noinst_LIBRARIES += proto/libqproto.a
proto_libqproto_a_SOURCES = proto/frame.c proto/frame.h proto/wire.c proto/wire.h
nodist_proto_libqproto_a_SOURCES = proto/quorum.pb-c.c proto/quorum.pb-c.h
proto_libqproto_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
BUILT_SOURCES += proto/quorum.pb-c.h
CLEANFILES += proto/quorum.pb-c.c proto/quorum.pb-c.h
EXTRA_DIST += proto/quorum.proto

check_PROGRAMS += tests/unit/test_frame
TESTS += tests/unit/test_frame
tests_unit_test_frame_SOURCES = tests/unit/test_frame.c
tests_unit_test_frame_CFLAGS = $(UNIT_CFLAGS) $(PROTOBUF_C_CFLAGS)
tests_unit_test_frame_LDADD = proto/libqproto.a $(CAUSAL_LIBS) $(UNIT_LIBS)
