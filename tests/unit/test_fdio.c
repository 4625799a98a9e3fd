/*
 * test_fdio.c - whole reads and writes: short transfers, signals and the
 * end of a file (lib/fdio.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/fdio.h"

#define PIECES	64
#define PIECE	1000

/* Feeds a pipe in small pieces, slowly, so each read sees only some. */
static void *
feed_slowly(void *arg)
{
	int fd = *(int *)arg;
	char piece[PIECE];
	int i;

	for (i = 0; i < PIECES; i++) {
		memset(piece, 'a' + i % 26, sizeof(piece));
		if (write(fd, piece, sizeof(piece)) != (ssize_t)sizeof(piece))
			abort();
		usleep(2000);
	}
	close(fd);
	return NULL;
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/*
 * A timer signal without SA_RESTART interrupts the blocked reads (EINTR)
 * while the pieces trickle in; the read still returns all of them, in
 * order, and the next one finds the end (ENODATA).
 */
static void
test_read_all_through_pieces_and_signals(void **state)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	static char got[PIECES * PIECE];
	pthread_t t;
	int p[2], i;
	char one;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: reads see EINTR */
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pthread_create(&t, NULL, feed_slowly, &p[1]), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);

	assert_int_equal(fd_read_all(p[0], got, sizeof(got)), 0);
	for (i = 0; i < PIECES; i++)
		assert_int_equal(got[i * PIECE], 'a' + i % 26);
	assert_int_equal(fd_read_all(p[0], &one, 1), -1);
	assert_int_equal(errno, ENODATA);

	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	pthread_join(t, NULL);
	close(p[0]);
}

static int
temp_file(void)
{
	char path[] = "/tmp/test_fdio.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* Writes land where asked; a read past the end is short, not an error. */
static void
test_pwrite_and_pread_upto(void **state)
{
	char buf[8192], back[8192];
	int fd = temp_file();

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fd_write_all(fd, "head", 4), 0);
	assert_int_equal(fd_pwrite_all(fd, buf, sizeof(buf), 4096), 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), 4096 + 8192);

	assert_int_equal(fd_pread_upto(fd, back, 4, 0), 4);
	assert_memory_equal(back, "head", 4);
	/* The hole between reads as zeros. */
	assert_int_equal(fd_pread_upto(fd, back, 10, 100), 10);
	assert_int_equal(back[0], 0);
	/* 8192 asked from 8192 before the end: all of it... */
	assert_int_equal(fd_pread_upto(fd, back, 8192, 4096), 8192);
	assert_memory_equal(back, buf, 8192);
	/* ...from 100 before the end: 100; at the end: 0. */
	assert_int_equal(fd_pread_upto(fd, back, 8192, 4096 + 8092), 100);
	assert_int_equal(fd_pread_upto(fd, back, 8192, 4096 + 8192), 0);
	/* From the file offset: the same, and it moves along. */
	assert_int_equal(lseek(fd, 4096 + 8000, SEEK_SET), 4096 + 8000);
	assert_int_equal(fd_read_upto(fd, back, 8192), 192);
	assert_int_equal(fd_read_upto(fd, back, 8192), 0);
	close(fd);
}

/* A failing descriptor is -1 with the system's errno, never a loop. */
static void
test_errors_are_errno(void **state)
{
	char c = 0;
	int fd = temp_file();

	(void)state;
	close(fd);
	assert_int_equal(fd_write_all(fd, &c, 1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(fd_pwrite_all(fd, &c, 1, 0), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(fd_read_all(fd, &c, 1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(fd_pread_upto(fd, &c, 1, 0), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(fd_read_upto(fd, &c, 1), -1);
	assert_int_equal(errno, EBADF);
	/* Nothing to move is done at once, whatever the descriptor. */
	assert_int_equal(fd_write_all(fd, &c, 0), 0);
	assert_int_equal(fd_read_all(fd, &c, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_all_through_pieces_and_signals),
		cmocka_unit_test(test_pwrite_and_pread_upto),
		cmocka_unit_test(test_errors_are_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
