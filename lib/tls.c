/* tls.c - TLS contexts, roles and non-blocking TLS I/O; see tls.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/qerr.h"
#include "lib/tls.h"
#include "lib/xalloc.h"

struct tls_ctx {
	SSL_CTX	*ssl;
};

/* Where an SSL keeps whether its socket's last read came back short. */
static int tls_short_index = -1;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void
tls_index_init(void)
{
	tls_short_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

const char *
tls_role_name(enum tls_role role)
{
	switch (role) {
	case TLS_ROLE_NODE:
		return "node";
	case TLS_ROLE_CLIENT:
		return "client";
	default:
		return "none";
	}
}

static int
given(const char *path)
{
	return path != NULL && path[0] != '\0';
}

int
tls_files_given(const struct tls_files *f, char **err)
{
	int n = given(f->ca) + given(f->cert) + given(f->key);

	if (n == 0 || n == 3)
		return n == 3;
	return qerr_set(err, QERR_INVALID, "TLS needs the CA, the "
	    "certificate and the key; missing:%s%s%s",
	    given(f->ca) ? "" : " the CA", given(f->cert) ? "" :
	    " the certificate", given(f->key) ? "" : " the key");
}

/*
 * The reason of the newest OpenSSL error on this thread's queue (which is
 * emptied), e.g. "certificate verify failed"; what when there is none.
 */
static void
tls_reason(char *buf, size_t size, const char *what)
{
	unsigned long e, last = 0;
	const char *r;

	while ((e = ERR_get_error()) != 0)
		last = e;
	r = last != 0 ? ERR_reason_error_string(last) : NULL;
	if (r == NULL && last != 0)
		r = ERR_lib_error_string(last);
	snprintf(buf, size, "%s", r != NULL ? r : what);
}

/* A failure of an OpenSSL call about file path (kind: "CA", ...). */
static int
tls_file_error(char **err, const char *kind, const char *path)
{
	char why[160];

	tls_reason(why, sizeof(why), "cannot load it");
	return qerr_set(err, QERR_INVALID, "TLS %s %s: %s", kind, path, why);
}

/* What a certificate's extended key usage lets it be (tls.h, Roles). */
static enum tls_role
cert_role(X509 *x)
{
	uint32_t xku;

	if (x == NULL || !(X509_get_extension_flags(x) & EXFLAG_XKUSAGE))
		return TLS_ROLE_NONE;
	xku = X509_get_extended_key_usage(x);
	if ((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT))
		return TLS_ROLE_NODE;
	if (xku & XKU_SSL_CLIENT)
		return TLS_ROLE_CLIENT;
	return TLS_ROLE_NONE;
}

/* Check own certificate as a peer will: the CA's, in date, a node's. */
static int
tls_check_own(SSL_CTX *ctx, const struct tls_files *f, char **err)
{
	X509 *own = SSL_CTX_get0_certificate(ctx);
	X509_STORE_CTX *sc = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = NULL;
	int rc = 0;

	if (sc == NULL)
		return qerr_set(err, QERR_IO, "TLS: out of memory");
	SSL_CTX_get0_chain_certs(ctx, &chain);
	if (cert_role(own) != TLS_ROLE_NODE) {
		rc = qerr_set(err, QERR_INVALID, "TLS certificate %s is a %s "
		    "certificate: a node needs a node certificate "
		    "(extended key usage serverAuth and clientAuth; "
		    "qfs-certs.sh node)", f->cert,
		    tls_role_name(cert_role(own)));
		goto out;
	}
	if (X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), own,
	    chain) != 1) {
		rc = tls_file_error(err, "certificate", f->cert);
		goto out;
	}
	X509_STORE_CTX_set_default(sc, "ssl_server");
	if (X509_verify_cert(sc) != 1)
		rc = qerr_set(err, QERR_INVALID, "TLS certificate %s does not "
		    "verify against the CA %s: %s", f->cert, f->ca,
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(sc)));
out:
	X509_STORE_CTX_free(sc);
	return rc;
}

/* Each file must be readable: say which one is not, and why. */
static int
tls_files_readable(const struct tls_files *f, char **err)
{
	const char *kinds[] = { "CA", "certificate", "key" };
	const char *paths[] = { f->ca, f->cert, f->key };
	size_t i;

	for (i = 0; i < 3; i++)
		if (access(paths[i], R_OK) != 0)
			return qerr_set(err, QERR_INVALID, "TLS %s %s: %s",
			    kinds[i], paths[i], strerror(errno));
	return 0;
}

int
tls_ctx_new(const struct tls_files *f, enum tls_role self,
    struct tls_ctx **out, char **err)
{
	SSL_CTX *ctx;
	int rc;

	*out = NULL;
	if ((rc = tls_files_readable(f, err)) < 0)
		return rc;
	pthread_once(&tls_once, tls_index_init);
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_method())) == NULL)
		return tls_file_error(err, "context for", f->cert);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1)
		rc = tls_file_error(err, "CA", f->ca);
	else if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1)
		rc = tls_file_error(err, "certificate", f->cert);
	else if (SSL_CTX_use_PrivateKey_file(ctx, f->key,
	    SSL_FILETYPE_PEM) != 1)
		rc = tls_file_error(err, "key", f->key);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		rc = qerr_set(err, QERR_INVALID, "TLS key %s does not match "
		    "the certificate %s", f->key, f->cert);
	else if (self == TLS_ROLE_NODE)
		rc = tls_check_own(ctx, f, err);
	if (rc < 0) {
		SSL_CTX_free(ctx);
		return rc;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Links are long-lived: no tickets, nothing written after Finished. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* A frame says its own length: an abrupt close is just an eof. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * Read what the socket has in one recv, not a record header and
	 * then its body (two system calls per small message otherwise);
	 * what is read ahead is what tls_pending counts.
	 */
	SSL_CTX_set_read_ahead(ctx, 1);
	*out = xcalloc(1, sizeof(**out));
	(*out)->ssl = ctx;
	return 0;
}

void
tls_ctx_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ssl);
	free(t);
}

/*
 * The socket BIO's callback: after each read from the socket, note whether
 * it returned less than asked, i.e. the socket was drained (tls_drained).
 */
static long
tls_read_seen(BIO *b, int oper, const char *argp, size_t len, int argi,
    long argl, int ret, size_t *processed)
{
	(void)argp;
	(void)argi;
	(void)argl;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		SSL_set_ex_data((SSL *)BIO_get_callback_arg(b),
		    tls_short_index, (void *)(intptr_t)(ret <= 0 ||
		    processed == NULL || *processed < len));
	return (oper & BIO_CB_RETURN) ? ret : 1;
}

SSL *
tls_new(struct tls_ctx *t, int fd, int accept, char **err)
{
	SSL *ssl;
	BIO *rb;

	ERR_clear_error();
	if ((ssl = SSL_new(t->ssl)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		char why[160];

		tls_reason(why, sizeof(why), "out of memory");
		SSL_free(ssl);
		qerr_set(err, QERR_IO, "TLS: %s", why);
		return NULL;
	}
	rb = SSL_get_rbio(ssl);
	BIO_set_callback_arg(rb, (char *)ssl);
	BIO_set_callback_ex(rb, tls_read_seen);
	if (accept)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	return ssl;
}

void
tls_free(SSL *ssl)
{
	SSL_free(ssl);
}

enum tls_role
tls_peer_role(SSL *ssl)
{
	return cert_role(SSL_get0_peer_certificate(ssl));
}

int
tls_pending(SSL *ssl)
{
	return SSL_has_pending(ssl);
}

int
tls_drained(SSL *ssl)
{
	return !SSL_has_pending(ssl) &&
	    SSL_get_ex_data(ssl, tls_short_index) != NULL;
}

/* What the return ret of an SSL call means (tls.h, I/O). */
static int
tls_result(SSL *ssl, int ret, enum tls_want *want, char **err)
{
	int e = SSL_get_error(ssl, ret), saved = errno;
	char why[160];
	long v;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = TLS_WANT_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = TLS_WANT_WRITE;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return qerr_set(err, QERR_UNAVAIL, "eof");
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return qerr_set(err, QERR_UNAVAIL, "%s",
		    saved != 0 ? strerror(saved) : "eof");
	default:
		tls_reason(why, sizeof(why), "TLS error");
		v = SSL_get_verify_result(ssl);
		if (v != X509_V_OK)
			return qerr_set(err, QERR_UNAVAIL, "TLS: %s (%s)",
			    why, X509_verify_cert_error_string(v));
		return qerr_set(err, QERR_UNAVAIL, "TLS: %s", why);
	}
}

int
tls_handshake(SSL *ssl, enum tls_role need, enum tls_want *want,
    char **err)
{
	enum tls_role got;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(ssl)) != 1)
		return tls_result(ssl, r, want, err);
	got = tls_peer_role(ssl);
	if (need == TLS_ROLE_NODE && got != TLS_ROLE_NODE)
		return qerr_set(err, QERR_UNAVAIL, "TLS: the peer's "
		    "certificate is a %s certificate, not a node's",
		    tls_role_name(got));
	if (got == TLS_ROLE_NONE)
		return qerr_set(err, QERR_UNAVAIL, "TLS: the peer's "
		    "certificate has no role (no extended key usage)");
	return 1;
}

ssize_t
tls_read(SSL *ssl, void *buf, size_t len, enum tls_want *want, char **err)
{
	size_t got = 0;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read_ex(ssl, buf, len, &got)) == 1)
		return (ssize_t)got;
	return tls_result(ssl, r, want, err);
}

ssize_t
tls_write(SSL *ssl, const void *buf, size_t len, enum tls_want *want,
    char **err)
{
	size_t put = 0;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_write_ex(ssl, buf, len, &put)) == 1)
		return (ssize_t)put;
	return tls_result(ssl, r, want, err);
}
