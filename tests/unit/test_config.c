/*
 * test_config.c - quorumd.conf parsing (replication/config.h): the bugs
 * fuzz-config found, and what config_load_file adds to config_load_string.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/qerr.h"
#include "replication/config.h"

/*
 * libinih cut a line of over 199 bytes in two, reading the rest as a line
 * of its own: such a line is refused.
 */
static void
test_long_line(void **state)
{
	struct config c;
	char text[512], *err = NULL;
	int n;

	(void)state;
	/* 199 bytes and a newline: the longest line read whole. */
	n = snprintf(text, sizeof(text), "[node]\ndata_dir = /");
	memset(text + n, 'd', 7 + 199 - (size_t)n);
	strcpy(text + 7 + 199, "\n");
	config_init(&c);
	assert_int_equal(config_load_string(&c, "t.conf", text, &err), 0);
	assert_int_equal(strlen(c.data_dir), 199 - strlen("data_dir = "));
	config_release(&c);

	/* One more byte: refused, naming the file and the line. */
	memset(text + 7, 'd', 200);
	memcpy(text + 7, "data_dir = /", 12);
	strcpy(text + 7 + 200, "\nid = n1\n");
	config_init(&c);
	assert_int_equal(config_load_string(&c, "t.conf", text, &err),
	    QERR_INVALID);
	assert_non_null(strstr(err, "t.conf: line 2 is longer than 199"));
	free(err);
	config_release(&c);
}

/* A member list may use any white space: a form feed ended up in a rack. */
static void
test_member_separators(void **state)
{
	struct config c;
	char *err = NULL;

	(void)state;
	config_init(&c);
	assert_int_equal(config_load_string(&c, "t.conf", "[cluster]\n"
	    "members = a@h:1/r1\f b@h:2/r2\v,c@h:3\n", &err), 0);
	assert_int_equal(c.nmembers, 3);
	assert_string_equal(c.members[0].rack, "r1");
	assert_string_equal(c.members[1].rack, "r2");
	assert_string_equal(c.members[2].rack, "");
	config_release(&c);
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX", *err = NULL;
	struct config c;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[node]\nid = n1\n\0x = y\n", 22), 22);
	close(fd);
	config_init(&c);
	assert_int_equal(config_load_file(&c, path, &err), QERR_INVALID);
	assert_non_null(strstr(err, "NUL byte"));
	free(err);
	err = NULL;
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "[node]\nid = n1\nbad line\n", 24), 24);
	close(fd);
	assert_int_equal(config_load_file(&c, path, &err), QERR_INVALID);
	assert_non_null(strstr(err, ": line 3: not \"key = value\""));
	assert_non_null(strstr(err, path));
	free(err);
	err = NULL;
	unlink(path);
	assert_int_equal(config_load_file(&c, path, &err), QERR_INVALID);
	assert_non_null(strstr(err, "cannot open"));
	free(err);
	config_release(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_member_separators),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
