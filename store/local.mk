## store/: one node's durable versioned map on LevelDB.
noinst_LIBRARIES += store/libqstore.a
store_libqstore_a_SOURCES = \
	store/key.c store/key.h \
	store/causal.c store/causal.h \
	store/record.c store/record.h \
	store/store.c store/store.h
nodist_store_libqstore_a_SOURCES = store/record.pb-c.c store/record.pb-c.h
store_libqstore_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
BUILT_SOURCES += store/record.pb-c.h
CLEANFILES += store/record.pb-c.c store/record.pb-c.h
EXTRA_DIST += store/record.proto
## What links the store needs.
STORE_LIBS = store/libqstore.a lib/libqutil.a $(PROTOBUF_C_LIBS) $(LEVELDB_LIBS) $(XXHASH_LIBS)
