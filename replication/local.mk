## replication/: quorumd, the replication daemon (libevent loop, ring,
## quorums, read repair, stats).
noinst_LIBRARIES += replication/libqrepl.a
replication_libqrepl_a_SOURCES = \
	replication/admit.c \
	replication/config.c replication/config.h \
	replication/conn.c replication/conn.h \
	replication/antientropy.c \
	replication/cleanup.c replication/cleanup.h \
	replication/cluster.c replication/cluster.h \
	replication/coord.c \
	replication/diskpool.c replication/diskpool.h \
	replication/gossip.c replication/handoff.c \
	replication/guard.c replication/guard.h \
	replication/members.c replication/members.h \
	replication/node.c replication/node.h replication/node_int.h \
	replication/peer.c replication/peer.h \
	replication/purge.c \
	replication/rebalance.c replication/rebalance.h \
	replication/replica.c \
	replication/ring.c replication/ring.h \
	replication/stats.c replication/stats.h
replication_libqrepl_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) $(INIH_CFLAGS) $(OPENSSL_CFLAGS)
REPL_LIBS = replication/libqrepl.a client/libqclient.a proto/libqproto.a \
	$(STORE_LIBS) \
	$(LIBEVENT_LIBS) $(INIH_LIBS) $(OPENSSL_LIBS)

sbin_PROGRAMS += quorumd
quorumd_SOURCES = replication/quorumd.c
quorumd_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(PROTOBUF_C_CFLAGS) \
	$(OPENSSL_CFLAGS)
quorumd_LDADD = $(REPL_LIBS)

noinst_PROGRAMS += replication/ring-balance
replication_ring_balance_SOURCES = replication/ring_balance.c
replication_ring_balance_LDADD = replication/libqrepl.a $(CAUSAL_LIBS)

## Merkle trees per ring range, for anti-entropy.
replication_libqrepl_a_SOURCES += replication/merkle.c replication/merkle.h
