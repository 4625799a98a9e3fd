/*
 * test_crc32c.c - LevelDB's CRC-32C on the CPU's instruction (store/crc32c.h):
 * the same checksums as the bit-by-bit definition and as LevelDB's own test
 * vectors, and, when LevelDB is linked statically, the one LevelDB uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "lib/xalloc.h"
#include "store/crc32c.h"
#include "store/store.h"
#include "tests/unit/tmpdir.h"

/* CRC-32C by its definition: reflected polynomial 0x82f63b78, one bit at
 * a time. */
static uint32_t
crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	size_t i;
	int k;

	crc = ~crc;
	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* LevelDB's util/crc32c_test.cc vectors (from RFC 3720, B.4). */
static void
test_leveldb_vectors(void **state)
{
	uint8_t buf[32];
	int i;

	(void)state;
	assert_int_equal(crc32c_check(), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c_extend(0, buf, 32), 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc32c_extend(0, buf, 32), 0x62a8ab43);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c_extend(0, buf, 32), 0x46dd794e);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c_extend(0, buf, 32), 0x113fdb5c);
	assert_int_equal(crc32c_extend(0, buf, 0), 0);
}

/* Every length and alignment around the instruction's 8-byte steps, and
 * split anywhere: extend(extend(0, a), b) is the CRC of a then b. */
static void
test_matches_definition(void **state)
{
	uint8_t *buf = xmalloc(5000);
	uint64_t r = 0x9e3779b97f4a7c15ull;
	size_t i, len, off, cut;

	(void)state;
	for (i = 0; i < 5000; i++) {
		r ^= r >> 12, r ^= r << 25, r ^= r >> 27;
		buf[i] = (uint8_t)(r * 0x2545f4914f6cdd1dull >> 56);
	}
	for (len = 0; len <= 300; len++)
		for (off = 0; off < 8; off++)
			assert_int_equal(crc32c_extend(0, buf + off, len),
			    crc32c_bitwise(0, buf + off, len));
	for (cut = 0; cut <= 4096; cut += 511)
		assert_int_equal(crc32c_extend(crc32c_extend(0, buf, cut),
		    buf + cut, 4096 - cut), crc32c_bitwise(0, buf, 4096));
	free(buf);
}

/* A store's write goes through LevelDB's log: with LevelDB linked
 * statically its checksum is ours (and then reads back). */
static void
test_leveldb_calls_it(void **state)
{
	struct store_options opt = { .create_if_missing = 1 };
	struct store *st;
	struct vset s;
	char dir[256], *err = NULL;

	(void)state;
	assert_int_equal(tmpdir_make(dir, sizeof(dir), "crc32c"), 0);
	if (store_open(dir, &opt, &st, &err) < 0)
		fail_msg("open: %s", err);
	if (store_put(st, "/c", 2, NULL, "A", 1, 0, "m", 1, "v", 1, NULL,
	    NULL, &err) < 0)
		fail_msg("put: %s", err);
	store_close(st);
	if (store_open(dir, &opt, &st, &err) < 0)
		fail_msg("reopen: %s", err);
	assert_int_equal(store_get(st, "/c", 2, 1, &s, &err), 1);
	vset_release(&s);
	store_close(st);
	assert_int_equal(tmpdir_remove(dir), 0);
#ifdef QFS_LEVELDB_STATIC
	assert_int_equal(crc32c_in_leveldb(), 1);
#else
	assert_int_equal(crc32c_in_leveldb(), 0);
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leveldb_vectors),
		cmocka_unit_test(test_matches_definition),
		cmocka_unit_test(test_leveldb_calls_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
