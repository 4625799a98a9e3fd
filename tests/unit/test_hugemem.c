/* test_hugemem.c - the malloc tunables a daemon re-executes with. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "lib/hugemem.h"

#define OURS "glibc.malloc.trim_threshold=134217728:" \
	"glibc.malloc.top_pad=16777216:glibc.malloc.mmap_threshold=33554432"

static void
test_none_set(void **state)
{
	char buf[512];

	(void)state;
	assert_int_equal(hugemem_tunables(NULL, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "glibc.malloc.hugetlb=1:" OURS);
	assert_int_equal(hugemem_tunables("", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "glibc.malloc.hugetlb=1:" OURS);
}

static void
test_operator_choice_stands(void **state)
{
	char buf[512];

	(void)state;
	assert_int_equal(hugemem_tunables("glibc.malloc.hugetlb=0", buf,
	    sizeof(buf)), 3);
	assert_string_equal(buf, "glibc.malloc.hugetlb=0:" OURS);
	/* Named in the middle of the list, and another tunable kept. */
	assert_int_equal(hugemem_tunables("glibc.malloc.arena_max=2:"
	    "glibc.malloc.top_pad=0", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "glibc.malloc.arena_max=2:"
	    "glibc.malloc.top_pad=0:glibc.malloc.hugetlb=1:"
	    "glibc.malloc.trim_threshold=134217728:"
	    "glibc.malloc.mmap_threshold=33554432");
}

static void
test_all_named_adds_nothing(void **state)
{
	char buf[512];

	(void)state;
	/* What a re-executed process sees: no second re-execution. */
	assert_int_equal(hugemem_tunables("glibc.malloc.hugetlb=1:" OURS,
	    buf, sizeof(buf)), 0);
}

static void
test_prefix_is_not_a_name(void **state)
{
	char buf[512];

	(void)state;
	/* "top_pad" is not "top_padding", nor a value that contains it. */
	assert_int_equal(hugemem_tunables("glibc.malloc.top_padding=1:"
	    "x=glibc.malloc.hugetlb=0", buf, sizeof(buf)), 4);
}

static void
test_too_long(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(hugemem_tunables(NULL, buf, sizeof(buf)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_set),
		cmocka_unit_test(test_operator_choice_stands),
		cmocka_unit_test(test_all_named_adds_nothing),
		cmocka_unit_test(test_prefix_is_not_a_name),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests_name("hugemem", tests, NULL, NULL);
}
