/* log.c - leveled logging to stderr; see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "lib/log.h"

static const char *log_tag = "quorumfs";
static enum log_level log_threshold = LOG_INFO;
static const char *level_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *tag, enum log_level threshold)
{
	log_tag = tag;
	log_threshold = threshold;
}

int
log_level_parse(const char *name)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (level < log_threshold)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ld %-5s %s: %s\n", stamp,
	    (long)(tv.tv_usec / 1000), level_names[level], log_tag, line);
}
