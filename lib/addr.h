/*
 * addr.h - "host:port" addresses, as quorumfs names every node, listener
 * and endpoint.  IPv4 only ("localhost" is 127.0.0.1).  Errors follow
 * lib/qerr.h: QERR_INVALID with a message naming the address.
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>
#include <netinet/in.h>

/* Split addr into host (at most hostlen - 1 bytes) and port (1..65535). */
int	addr_split(const char *addr, char *host, size_t hostlen, int *port,
	    char **err);
/* addr as a socket address. */
int	addr_to_sockaddr(const char *addr, struct sockaddr_in *out,
	    char **err);

#endif
