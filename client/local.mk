## client/: the client library (the only way in for fs/ and quorumctl)
## and quorumctl.
noinst_LIBRARIES += client/libqclient.a
client_libqclient_a_SOURCES = client/qclient.c client/qclient.h \
	client/capacity.c client/capacity.h
client_libqclient_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS)
CLIENT_LIBS = client/libqclient.a proto/libqproto.a $(CAUSAL_LIBS) \
	$(OPENSSL_LIBS)

bin_PROGRAMS += quorumctl
## ring.c: check-replicas builds the ring as quorumd does; libqfsview:
## conflicts groups versions as the mount shows them.
quorumctl_SOURCES = client/quorumctl.c client/bench.c client/bench.h \
	replication/ring.c replication/ring.h
quorumctl_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS)
quorumctl_LDADD = fs/libqfsview.a $(CLIENT_LIBS)
