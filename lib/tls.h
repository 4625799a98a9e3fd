/*
 * tls.h - TLS for quorumfs's links (OpenSSL): the cluster CA, this
 * process's own certificate, and what a peer's certificate lets it do.
 *
 * Trust: one cluster CA signs every certificate.  Both ends of every link
 * present a certificate and check the other's: its chain to the cluster CA
 * and its dates.  Only TLS 1.3 is spoken (no renegotiation, no session
 * resumption: a link is long-lived).
 *
 * Roles.  A certificate's extended key usage says what it may do:
 *   node    serverAuth and clientAuth: a node accepts connections and
 *           opens them to other nodes, so it needs both;
 *   client  clientAuth only: a client (quorumctl, a quorumfs mount) only
 *           opens connections, and a node refuses it the messages only
 *           nodes send (node.c says which).
 * A certificate without an extended key usage has no role and is refused:
 * X.509 would let it do anything, which is not what a client certificate
 * made without care should get.  The side that opens a connection (a
 * client, or a node reaching a peer) requires a node certificate of the
 * side that accepts, so a client certificate cannot pose as a node either.
 *
 * Not checked: which node a node certificate names (any node certificate
 * of the cluster CA is a member) and revocation (no CRL or OCSP: to drop
 * a machine, make a new CA and certificates).
 *
 * I/O on a non-blocking socket: tls_handshake, tls_read and tls_write return
 * > 0 (done, or bytes moved), 0 when the call must be repeated once the
 * socket is readable or writable (*want says which), or QERR_UNAVAIL when
 * the link is over (*err says why: "eof" for a clean end, else the TLS or
 * certificate error).  A tls_write that returned 0 must be repeated with
 * the same bytes (the pointer may move: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 *
 * Ownership: tls_ctx_new returns a context the caller frees with
 * tls_ctx_free once every SSL made from it is freed (tls_free); an SSL does
 * not own its socket.  Errors follow lib/qerr.h.
 */
#ifndef LIB_TLS_H
#define LIB_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

enum tls_role { TLS_ROLE_NONE, TLS_ROLE_CLIENT, TLS_ROLE_NODE };

enum tls_want { TLS_WANT_READ = 1, TLS_WANT_WRITE = 2 };

/* The three PEM files; NULL or "" for one not given. */
struct tls_files {
	const char	*ca;		/* the cluster CA's certificate */
	const char	*cert;		/* this process's certificate */
	const char	*key;		/* its private key */
};

struct tls_ctx;

/* "node", "client" or "none". */
const char	*tls_role_name(enum tls_role role);

/*
 * 1 when all three files are given, 0 when none is, QERR_INVALID (with
 * *err naming what is missing) when only some are.
 */
int	tls_files_given(const struct tls_files *f, char **err);

/*
 * Load the CA, the certificate and its key.  A node (self TLS_ROLE_NODE)
 * also checks its own certificate as its peers will: signed by the CA,
 * within its dates, a node certificate; so a bad one stops it at start.
 * A client checks only that the files load and the key matches: the
 * node's verdict on the rest comes back when it connects.
 */
int	tls_ctx_new(const struct tls_files *f, enum tls_role self,
	    struct tls_ctx **out, char **err);
void	tls_ctx_free(struct tls_ctx *t);

/* A TLS link on connected socket fd; accept: the accepting side. */
SSL	*tls_new(struct tls_ctx *t, int fd, int accept, char **err);
void	tls_free(SSL *ssl);

/*
 * Take the handshake a step further.  Once done (1), the peer's
 * certificate is checked against need: TLS_ROLE_NODE requires a node
 * certificate, TLS_ROLE_CLIENT any certificate with a role.
 */
int	tls_handshake(SSL *ssl, enum tls_role need, enum tls_want *want,
	    char **err);
/* The role of the peer's certificate (after the handshake). */
enum tls_role	tls_peer_role(SSL *ssl);

ssize_t	tls_read(SSL *ssl, void *buf, size_t len, enum tls_want *want,
	    char **err);
ssize_t	tls_write(SSL *ssl, const void *buf, size_t len, enum tls_want *want,
	    char **err);
/*
 * Whether the SSL holds bytes read from the socket (decrypted or not) that
 * no socket event will announce: read again before waiting.
 */
int	tls_pending(SSL *ssl);
/*
 * Whether a reader may stop without asking the socket again: the SSL holds
 * nothing read ahead and the socket's last read came back short of what
 * was asked (so it held no more then).  A reader on a level-triggered
 * event that stops here is woken again if more has come since.
 */
int	tls_drained(SSL *ssl);

#endif
