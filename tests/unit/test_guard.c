/*
 * test_guard.c - the connection limits and progress rules
 * (replication/guard.h): who is admitted, when a connection is cut.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "lib/qerr.h"
#include "replication/guard.h"

static const struct guard_limits lim = {
	.max_clients = 10,
	.max_clients_per_host = 4,
	.max_peer_connections = 3,
	.frame_timeout_ms = 1000,
	.min_rate = 1000,		/* a second per 1000 bytes */
	.idle_timeout_ms = 5000,
};

static int
admit(enum guard_class cls, unsigned clients, unsigned peers,
    unsigned from_host, char *why)
{
	struct guard_counts n = { clients, peers, from_host };

	why[0] = '\0';
	return guard_admit(&lim, cls, &n, why, 128);
}

static void
test_clients_admitted_up_to_their_limits(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(admit(GUARD_CLIENT, 0, 0, 0, why), 0);
	assert_int_equal(admit(GUARD_CLIENT, 9, 3, 3, why), 0);
	assert_int_equal(admit(GUARD_CLIENT, 10, 0, 0, why), QERR_UNAVAIL);
	assert_non_null(strstr(why, "too many client connections"));
	assert_non_null(strstr(why, "10"));
	assert_int_equal(admit(GUARD_CLIENT, 5, 0, 4, why), QERR_UNAVAIL);
	assert_non_null(strstr(why, "from this host"));
}

/* A client flood leaves the peers their reserve, and no more. */
static void
test_peers_keep_a_reserve(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(admit(GUARD_PEER, 10, 0, 0, why), 0);
	assert_int_equal(admit(GUARD_PEER, 10, 2, 0, why), 0);
	assert_int_equal(admit(GUARD_PEER, 10, 3, 0, why), QERR_UNAVAIL);
	assert_non_null(strstr(why, "3 kept for peers"));
	/* Peers may use what clients leave unused. */
	assert_int_equal(admit(GUARD_PEER, 0, 12, 0, why), 0);
	assert_int_equal(admit(GUARD_PEER, 0, 13, 0, why), QERR_UNAVAIL);
}

static void
test_zero_is_no_limit(void **state)
{
	struct guard_limits none = { 0 };
	struct guard_counts n = { 100000, 100000, 100000 };
	struct conn_progress p = { .in_partial = 1, .out_queued = 1 };
	char why[128];

	(void)state;
	assert_int_equal(guard_admit(&none, GUARD_CLIENT, &n, why, 128), 0);
	assert_int_equal(guard_admit(&none, GUARD_PEER, &n, why, 128), 0);
	assert_int_equal(guard_check(&none, GUARD_CLIENT, &p, 1000000000, why,
	    128), 0);
	assert_int_equal(guard_interval_ms(&none), 0);
}

static int
check(enum guard_class cls, const struct conn_progress *p, int64_t now,
    char *why)
{
	why[0] = '\0';
	return guard_check(&lim, cls, p, now, why, 256);
}

/* A frame gets frame_timeout_ms, and a second per min_rate bytes. */
static void
test_slow_frame_cut_fair_rate_kept(void **state)
{
	struct conn_progress p = { .in_partial = 5, .in_since_ms = 1000,
	    .last_io_ms = 1000 };
	char why[256];

	(void)state;
	/* 5 bytes came: 5 ms of credit. */
	assert_int_equal(check(GUARD_CLIENT, &p, 2005, why), 0);
	assert_int_equal(check(GUARD_CLIENT, &p, 2006, why), 1);
	assert_non_null(strstr(why, "a frame unfinished after 1006 ms"));
	/* 10 s in, 9000 bytes came: the credit is 1 + 9 s. */
	p.in_partial = 9000;
	assert_int_equal(check(GUARD_CLIENT, &p, 11000, why), 0);
	assert_int_equal(check(GUARD_CLIENT, &p, 11001, why), 1);
	/* Peers are held to the same rule. */
	assert_int_equal(check(GUARD_PEER, &p, 11001, why), 1);
}

static void
test_unread_answers_cut(void **state)
{
	struct conn_progress p = { .out_queued = 4096, .out_moved_ms = 500,
	    .last_io_ms = 500, .inflight = 3 };
	char why[256];

	(void)state;
	assert_int_equal(check(GUARD_CLIENT, &p, 1500, why), 0);
	assert_int_equal(check(GUARD_CLIENT, &p, 1501, why), 1);
	assert_non_null(strstr(why, "answers unread: 4096 bytes queued"));
}

static void
test_idle_clients_only(void **state)
{
	struct conn_progress p = { .last_io_ms = 0 };
	char why[256];

	(void)state;
	assert_int_equal(check(GUARD_CLIENT, &p, 5000, why), 0);
	assert_int_equal(check(GUARD_CLIENT, &p, 5001, why), GUARD_CUT_IDLE);
	assert_non_null(strstr(why, "idle for 5001 ms"));
	assert_int_equal(check(GUARD_PEER, &p, 50000, why), 0);
	/* A request in flight (a slow quorum) is not idleness. */
	p.inflight = 1;
	assert_int_equal(check(GUARD_CLIENT, &p, 50000, why), 0);
}

static void
test_interval(void **state)
{
	struct guard_limits g = lim;

	(void)state;
	assert_int_equal(guard_interval_ms(&g), 100);
	g.frame_timeout_ms = 30000;
	g.idle_timeout_ms = 600000;
	assert_int_equal(guard_interval_ms(&g), 1000);
	g.frame_timeout_ms = 0;
	g.idle_timeout_ms = 4000;
	assert_int_equal(guard_interval_ms(&g), 400);
}

/* ---- penalties ---- */

static struct guard_penalties pb;
static const struct guard_limits plim = { .abuse_penalty_ms = 2000 };

static unsigned
strike(uint32_t ip, int64_t now, struct guard_offender *before)
{
	struct guard_offender b;

	return guard_strike(&pb, &plim, ip, now, before != NULL ? before : &b);
}

/* GUARD_STRIKES in a row start a penalty; each more doubles it, capped. */
static void
test_strikes_then_doubling_penalty(void **state)
{
	struct guard_offender before;
	int64_t t = 1000;

	(void)state;
	memset(&pb, 0, sizeof(pb));
	assert_int_equal(strike(7, t, NULL), 0);
	assert_int_equal(strike(7, t + 10, NULL), 0);
	assert_int_equal(guard_penalised(&pb, 7, t + 20), 0);
	assert_int_equal(strike(7, t + 20, &before), GUARD_PENALTY_MIN_MS);
	assert_int_equal(before.strikes, GUARD_STRIKES - 1);
	assert_true(before.until_ms <= t + 20);		/* a fresh penalty */
	assert_int_equal(guard_penalised(&pb, 7, t + 21), 1);
	assert_int_equal(guard_penalised(&pb, 7, t + 20 + 249), 1);
	assert_int_equal(guard_penalised(&pb, 7, t + 20 + 250), 0);
	/* Another address is not touched. */
	assert_int_equal(guard_penalised(&pb, 8, t + 21), 0);
	assert_int_equal(strike(7, t + 300, &before), 2 * GUARD_PENALTY_MIN_MS);
	assert_int_equal(before.closed, 2);	/* the last penalty's */
	assert_int_equal(strike(7, t + 310, &before), 4 * GUARD_PENALTY_MIN_MS);
	assert_true(before.until_ms > t + 310);	/* one running: no new line */
	assert_int_equal(strike(7, t + 320, NULL), 8 * GUARD_PENALTY_MIN_MS);
	assert_int_equal(strike(7, t + 330, NULL), 2000);	/* the cap */
	assert_int_equal(strike(7, t + 340, NULL), 2000);
	assert_int_equal(guard_penalised(&pb, 7, t + 340 + 1999), 1);
	assert_int_equal(guard_penalised(&pb, 7, t + 340 + 2000), 0);
}

/* A row of strikes ends after GUARD_FORGIVE_MS without one. */
static void
test_strikes_forgiven(void **state)
{
	int64_t t = 5000;

	(void)state;
	memset(&pb, 0, sizeof(pb));
	assert_int_equal(strike(9, t, NULL), 0);
	assert_int_equal(strike(9, t + 1, NULL), 0);
	t += 1 + GUARD_FORGIVE_MS + 1;	/* past the last strike, t + 1 */
	assert_int_equal(strike(9, t, NULL), 0);
	assert_int_equal(strike(9, t + 1, NULL), 0);
	assert_int_equal(strike(9, t + 2, NULL), GUARD_PENALTY_MIN_MS);
}

/* abuse_penalty_ms 0 turns penalties off; the box stays bounded. */
static void
test_penalties_off_and_bounded(void **state)
{
	struct guard_limits off = { .abuse_penalty_ms = 0 };
	struct guard_offender b;
	uint32_t ip;
	int i;

	(void)state;
	memset(&pb, 0, sizeof(pb));
	for (i = 0; i < 10; i++)
		assert_int_equal(guard_strike(&pb, &off, 3, i, &b), 0);
	assert_int_equal(guard_penalised(&pb, 3, 10), 0);
	/* Penalise address 1, then strike many others, later: address 1's
	 * slot is the oldest and goes, and nothing grows. */
	for (i = 0; i < GUARD_STRIKES; i++)
		strike(1, 0, NULL);
	assert_int_equal(guard_penalised(&pb, 1, 1), 1);
	for (ip = 100; ip < 100 + GUARD_PENALTY_SLOTS; ip++)
		strike(ip, 10, NULL);
	assert_int_equal(guard_penalised(&pb, 1, 2), 0);
	/* The newest are all still there: GUARD_PENALTY_SLOTS of them. */
	for (ip = 100; ip < 100 + GUARD_PENALTY_SLOTS; ip++) {
		strike(ip, 11, NULL);
		strike(ip, 12, NULL);
		assert_int_equal(guard_penalised(&pb, ip, 13), 1);
	}
}

/*
 * Refusals: only GUARD_REFUSALS of them within GUARD_REFUSAL_MS are a
 * strike; a client that waits after its error is never struck, however
 * long it keeps trying.
 */
static void
test_refusal_runs_strike(void **state)
{
	struct guard_offender b;
	int64_t t = 5000;
	int i, k, struck, strikes = 0;
	unsigned ms = 0;

	(void)state;
	memset(&pb, 0, sizeof(pb));
	/* 63 a second, for a minute: never a strike. */
	for (k = 0; k < 60; k++)
		for (i = 0; i < GUARD_REFUSALS - 1; i++) {
			ms = guard_refused(&pb, &plim, 9, t + k * 1001 + i, &b,
			    &struck);
			assert_int_equal(struck, 0);
			assert_int_equal(ms, 0);
		}
	assert_int_equal(guard_penalised(&pb, 9, t + 60 * 1001), 0);
	/* As fast as refused: a strike per run, a penalty after three. */
	t += 100000;
	for (i = 0; i < GUARD_STRIKES * GUARD_REFUSALS; i++) {
		ms = guard_refused(&pb, &plim, 9, t + i / 8, &b, &struck);
		strikes += struck;
		if (i < GUARD_STRIKES * GUARD_REFUSALS - 1)
			assert_int_equal(ms, 0);
	}
	assert_int_equal(strikes, GUARD_STRIKES);
	assert_int_equal(ms, GUARD_PENALTY_MIN_MS);
	assert_int_equal(guard_penalised(&pb, 9, t + 100), 1);
	assert_int_equal(guard_penalised(&pb, 10, t + 100), 0);
	/* Refusals mix with the other strikes' row. */
	memset(&pb, 0, sizeof(pb));
	strike(11, t, NULL);
	strike(11, t + 1, NULL);
	for (i = 0; i < GUARD_REFUSALS; i++)
		ms = guard_refused(&pb, &plim, 11, t + 2, &b, &struck);
	assert_int_equal(ms, GUARD_PENALTY_MIN_MS);
	/* Penalties off: never a strike. */
	memset(&pb, 0, sizeof(pb));
	for (i = 0; i < 10 * GUARD_REFUSALS; i++) {
		struct guard_limits off = plim;

		off.abuse_penalty_ms = 0;
		assert_int_equal(guard_refused(&pb, &off, 12, t, &b, &struck),
		    0);
		assert_int_equal(struck, 0);
	}
}

/* The socket filter's list: who is penalised now, and when that changes. */
static void
test_penalised_ips(void **state)
{
	uint32_t ips[4];
	int64_t next;
	int i;

	(void)state;
	memset(&pb, 0, sizeof(pb));
	assert_int_equal(guard_penalised_ips(&pb, 0, ips, 4, &next), 0);
	assert_int_equal(next, 0);
	for (i = 0; i < GUARD_STRIKES; i++)
		strike(21, 100, NULL);		/* until 350 */
	for (i = 0; i < GUARD_STRIKES + 1; i++)
		strike(22, 200, NULL);		/* until 700 */
	strike(23, 200, NULL);			/* one strike: not listed */
	assert_int_equal(guard_penalised_ips(&pb, 300, ips, 4, &next), 2);
	assert_true((ips[0] == 21 && ips[1] == 22) ||
	    (ips[0] == 22 && ips[1] == 21));
	assert_int_equal(next, 350);
	assert_int_equal(guard_penalised_ips(&pb, 300, ips, 1, &next), 1);
	assert_int_equal(next, 350);		/* the unlisted count too */
	assert_int_equal(guard_penalised_ips(&pb, 350, ips, 4, &next), 1);
	assert_int_equal(ips[0], 22);
	assert_int_equal(next, 700);
	assert_int_equal(guard_penalised_ips(&pb, 700, ips, 4, &next), 0);
	assert_int_equal(next, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients_admitted_up_to_their_limits),
		cmocka_unit_test(test_peers_keep_a_reserve),
		cmocka_unit_test(test_zero_is_no_limit),
		cmocka_unit_test(test_slow_frame_cut_fair_rate_kept),
		cmocka_unit_test(test_unread_answers_cut),
		cmocka_unit_test(test_idle_clients_only),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_strikes_then_doubling_penalty),
		cmocka_unit_test(test_strikes_forgiven),
		cmocka_unit_test(test_penalties_off_and_bounded),
		cmocka_unit_test(test_penalised_ips),
		cmocka_unit_test(test_refusal_runs_strike),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
