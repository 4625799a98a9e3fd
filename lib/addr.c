/* addr.c - host:port addresses; see addr.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/qerr.h"

int
addr_split(const char *addr, char *host, size_t hostlen, int *port,
    char **err)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long p;

	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= hostlen)
		return qerr_set(err, QERR_INVALID,
		    "address \"%s\" is not host:port", addr);
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p <= 0 ||
	    p > 65535)
		return qerr_set(err, QERR_INVALID,
		    "address \"%s\" has a bad port", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	*port = (int)p;
	return 0;
}

int
addr_to_sockaddr(const char *addr, struct sockaddr_in *out, char **err)
{
	char host[256];
	int port, rc;

	if ((rc = addr_split(addr, host, sizeof(host), &port, err)) < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" :
	    host, &out->sin_addr) != 1)
		return qerr_set(err, QERR_INVALID, "address \"%s\": not an "
		    "IPv4 address", addr);
	return 0;
}
