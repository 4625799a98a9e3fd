## fs/: quorumfs, the FUSE mount.  libqfsview holds the pure parts
## (attribute encoding, sibling views) that quorumctl shares.
noinst_LIBRARIES += fs/libqfsview.a
fs_libqfsview_a_SOURCES = fs/meta.c fs/meta.h fs/siblings.c fs/siblings.h
fs_libqfsview_a_CFLAGS = $(AM_CFLAGS)

bin_PROGRAMS += quorumfs
quorumfs_SOURCES = fs/quorumfs.c fs/qfs.h fs/ops.c fs/file.c fs/file.h \
	fs/view.c fs/view.h fs/inode.c fs/inode.h fs/wbuf.c fs/wbuf.h
quorumfs_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS) $(PROTOBUF_C_CFLAGS)
quorumfs_LDADD = fs/libqfsview.a $(CLIENT_LIBS) $(FUSE_LIBS)
dist_man_MANS += man/quorumfs.1
