/* throttle.c - see throttle.h. */
#include <unistd.h>

#include "lib/clock.h"
#include "lib/throttle.h"

#define THROTTLE_STEP_MS  50

void
throttle_start(struct throttle *t)
{
	t->window_ms = mono_ms();
	t->bytes = 0;
}

void
throttle_account(struct throttle *t, uint64_t rate, size_t bytes,
    const atomic_int *stop)
{
	int64_t now = mono_ms(), wait;

	if (now - t->window_ms >= 1000)
		throttle_start(t);
	t->bytes += bytes;
	if (t->bytes <= rate)
		return;
	for (wait = 1000 - (now - t->window_ms); wait > 0 &&
	    (stop == NULL || atomic_load(stop) == 0); wait -= THROTTLE_STEP_MS)
		usleep(THROTTLE_STEP_MS * 1000);
	throttle_start(t);
}
