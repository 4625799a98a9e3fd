/*
 * clock.h - the monotonic clock in milliseconds, for deadlines, timeouts
 * and rate windows: never the wall clock, which jumps.
 */
#ifndef LIB_CLOCK_H
#define LIB_CLOCK_H

#include <stdint.h>

int64_t	mono_ms(void);

#endif
