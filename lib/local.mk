## lib/: small shared utilities (error convention, allocation).
noinst_LIBRARIES += lib/libqutil.a
lib_libqutil_a_SOURCES = lib/qerr.c lib/qerr.h lib/xalloc.c lib/xalloc.h lib/log.c lib/log.h lib/addr.c lib/addr.h \
	lib/clock.c lib/clock.h lib/throttle.c lib/throttle.h \
	lib/hugemem.c lib/hugemem.h lib/fdio.c lib/fdio.h \
	lib/tls.c lib/tls.h
lib_libqutil_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
