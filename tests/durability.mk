## Durability of store/: the group-commit benchmark and the kill -9 test.
## store-bench prints acknowledged puts/s for 1 and many writers next to the
## disk's fsync rate; test_store_crash SIGKILLs a loaded child and checks
## that every acknowledged write survives the reopen.  STORE_LIBS (see
## store/local.mk) is everything a program linking the store needs.
noinst_PROGRAMS += store/store-bench
store_store_bench_SOURCES = store/store_bench.c
store_store_bench_LDADD = $(STORE_LIBS)
## leveldb-bench: LevelDB's own synced writes/s on the store's settings,
## the ceiling under a replica write (scripts/bench-kv.sh runs it).
noinst_PROGRAMS += store/leveldb-bench
store_leveldb_bench_SOURCES = store/leveldb_bench.c
store_leveldb_bench_LDADD = $(STORE_LIBS)

check_PROGRAMS += tests/unit/test_store_crash
TESTS += tests/unit/test_store_crash
tests_unit_test_store_crash_SOURCES = tests/unit/test_store_crash.c
tests_unit_test_store_crash_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_store_crash_LDADD = $(STORE_LIBS) $(UNIT_LIBS)
