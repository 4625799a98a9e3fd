/* test_key.c - the valid key set and the ring hash (store/key.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/qerr.h"
#include "store/key.h"

static int
validate(const char *k)
{
	char *err = NULL;
	int rc = key_validate(k, strlen(k), &err);

	if (rc < 0)
		assert_non_null(err);
	free(err);
	return rc;
}

static void
test_valid_keys(void **state)
{
	(void)state;
	assert_int_equal(validate("/a"), 0);
	assert_int_equal(validate("/a/b/c.txt"), 0);
	assert_int_equal(validate("/.hidden/..x/x.."), 0);
	assert_int_equal(validate("/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac"), 0);
	assert_int_equal(validate("/name.~sibling-1"), 0); /* fs reserves it */
}

static void
test_invalid_keys(void **state)
{
	char big[KEY_MAX_LEN + 2], comp[KEY_NAME_MAX + 3];
	char *err = NULL;

	(void)state;
	assert_int_equal(validate(""), QERR_INVALID);
	assert_int_equal(validate("a/b"), QERR_INVALID);
	assert_int_equal(validate("/"), QERR_INVALID);
	assert_int_equal(validate("/a/"), QERR_INVALID);
	assert_int_equal(validate("/a//b"), QERR_INVALID);
	assert_int_equal(validate("/a/./b"), QERR_INVALID);
	assert_int_equal(validate("/a/.."), QERR_INVALID);
	assert_int_equal(validate("/bad\xff"), QERR_INVALID);
	assert_int_equal(validate("/overlong\xc0\xaf"), QERR_INVALID);
	assert_int_equal(validate("/surrogate\xed\xa0\x80"), QERR_INVALID);
	assert_int_equal(validate("/truncated\xe6\x97"), QERR_INVALID);
	assert_int_equal(key_validate("/a\0b", 4, &err), QERR_INVALID);
	assert_non_null(strstr(err, "NUL"));
	free(err);

	memset(big, 'x', sizeof(big));
	big[0] = '/';
	for (size_t i = 200; i < sizeof(big); i += 200)
		big[i] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(validate(big), QERR_TOO_BIG);

	memset(comp, 'y', sizeof(comp));
	comp[0] = '/';
	comp[sizeof(comp) - 1] = '\0';	/* one component of 256 bytes */
	assert_int_equal(validate(comp), QERR_TOO_BIG);
	comp[sizeof(comp) - 2] = '\0';	/* 255: fine */
	assert_int_equal(validate(comp), 0);
}

static void
test_dirs(void **state)
{
	(void)state;
	assert_int_equal(key_validate_dir("/", 1, NULL), 0);
	assert_int_equal(key_validate_dir("/a/b", 4, NULL), 0);
	assert_int_equal(key_validate_dir("/a/", 3, NULL), QERR_INVALID);
}

static void
test_split(void **state)
{
	size_t plen, off;

	(void)state;
	key_split("/a/b/c", 6, &plen, &off);
	assert_int_equal(plen, 4);
	assert_int_equal(off, 5);
	key_split("/c", 2, &plen, &off);
	assert_int_equal(plen, 0);
	assert_int_equal(off, 1);
}

/* Every node must place a key at the same point, release after release. */
static void
test_hash_is_stable(void **state)
{
	(void)state;
	assert_true(key_hash("/a", 2) != key_hash("/b", 2));
	assert_true(key_hash("/a", 2) == key_hash("/a", 2));
	/* XXH3-64 with seed 0: a change here would move every key. */
	assert_true(key_hash("", 0) == 0x2d06800538d394c2ULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_keys),
		cmocka_unit_test(test_invalid_keys),
		cmocka_unit_test(test_dirs),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_hash_is_stable),
	};

	return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}
