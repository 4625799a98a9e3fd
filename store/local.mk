## store/: one node's durable versioned map on LevelDB.
## libqcausal: keys, causality and their encodings - pure code, no LevelDB,
## shared with the client library.  libqstore: the LevelDB store itself.
noinst_LIBRARIES += store/libqcausal.a store/libqstore.a
store_libqcausal_a_SOURCES = \
	store/key.c store/key.h \
	store/causal.c store/causal.h \
	store/record.c store/record.h
nodist_store_libqcausal_a_SOURCES = store/record.pb-c.c store/record.pb-c.h
store_libqcausal_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
store_libqstore_a_SOURCES = store/store.c store/store.h store/store_int.h \
	store/blob.c store/blob.h \
	store/kbuf.c store/kbuf.h \
	store/hints.c store/hints.h \
	store/logcut.c store/logcut.h \
	store/logenv.cc store/logenv.h \
	store/crc32c.cc store/crc32c.h
store_libqstore_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(ISAL_CFLAGS)
BUILT_SOURCES += store/record.pb-c.h
CLEANFILES += store/record.pb-c.c store/record.pb-c.h
EXTRA_DIST += store/record.proto
## What links the causal code, and the store (C++'s runtime for logenv.cc).
CAUSAL_LIBS = store/libqcausal.a lib/libqutil.a $(PROTOBUF_C_LIBS) $(XXHASH_LIBS)
STORE_LIBS = store/libqstore.a $(CAUSAL_LIBS) $(LEVELDB_LIBS) $(ISAL_LIBS) -lstdc++
