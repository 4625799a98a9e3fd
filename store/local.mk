## store/: one node's durable versioned map on LevelDB.
noinst_LIBRARIES += store/libqstore.a
store_libqstore_a_SOURCES = store/key.c store/key.h
