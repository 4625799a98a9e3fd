/*
 * node.h - one quorumd node: its event loop, store, ring and peers.
 *
 * node_new opens the store (creating the data directory's database on first
 * start), builds the ring from the configured members, and listens; 
 * node_run dispatches until SIGTERM or SIGINT, then stops accepting,
 * finishes the disk work under way (every acknowledged write is already
 * synced) and returns.  One thread runs the loop and owns every socket;
 * changes run on the store's writer thread, big reads on the disk pool's.
 */
#ifndef REPLICATION_NODE_H
#define REPLICATION_NODE_H

#include "replication/config.h"

struct node;

/* cfg must stay valid for the node's life. */
int	node_new(const struct config *cfg, struct node **out, char **err);
/* Run until a stop signal; 0 on a clean stop. */
int	node_run(struct node *n);
void	node_free(struct node *n);

#endif
