/*
 * log.h - leveled logging to stderr.
 *
 * One line per message: time, level, the process tag, the text.  Messages
 * below the threshold are dropped before formatting.  Safe from any thread
 * (one fprintf per line, stderr unbuffered).
 */
#ifndef LOG_H
#define LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void	log_init(const char *tag, enum log_level threshold);
/* "debug", "info", "warn" or "error"; -1 if the name is none of them. */
int	log_level_parse(const char *name);
void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)

#endif
