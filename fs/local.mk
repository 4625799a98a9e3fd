## fs/: quorumfs, the FUSE mount.  libqfsview holds the parts that need
## no FUSE: attribute encoding and sibling views (quorumctl shares them),
## write buffers and the inode table (unit-tested on their own).
noinst_LIBRARIES += fs/libqfsview.a
fs_libqfsview_a_SOURCES = fs/meta.c fs/meta.h fs/siblings.c fs/siblings.h \
	fs/wbuf.c fs/wbuf.h fs/inode.c fs/inode.h fs/lcache.c fs/lcache.h \
	fs/sizehint.c fs/sizehint.h fs/mountopt.c fs/mountopt.h \
	fs/dirsnap.c fs/dirsnap.h fs/unsettled.c fs/unsettled.h
fs_libqfsview_a_CFLAGS = $(AM_CFLAGS)

bin_PROGRAMS += quorumfs
quorumfs_SOURCES = fs/quorumfs.c fs/qfs.h fs/ops.c fs/file.c fs/file.h \
	fs/view.c fs/view.h
quorumfs_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS) $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS)
quorumfs_LDADD = fs/libqfsview.a $(CLIENT_LIBS) $(FUSE_LIBS)
dist_man_MANS += man/quorumfs.1

check_PROGRAMS += tests/unit/test_fs
TESTS += tests/unit/test_fs
tests_unit_test_fs_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_fs_LDADD = fs/libqfsview.a $(CAUSAL_LIBS) $(UNIT_LIBS)
