/*
 * key.h - what a key is, and where it sits on the ring.
 *
 * A key is a '/'-separated path, the same string the filesystem mounts as a
 * path.  The valid set is:
 *   - valid UTF-8, no NUL byte, starting with '/';
 *   - at most KEY_MAX_LEN bytes in all and KEY_NAME_MAX bytes per component;
 *   - no empty component (so no "//" and no trailing '/'), no "." or "..";
 *   - not "/" itself (the root is a directory, never a stored key).
 * Anything else is rejected with QERR_INVALID (QERR_TOO_BIG for the length
 * limits) and a message naming the rule broken.
 *
 * The ring position of a key is the 64-bit XXH3 hash of its bytes: stable
 * across machines and versions of libxxhash, which is what every node of a
 * cluster must agree on.
 */
#ifndef STORE_KEY_H
#define STORE_KEY_H

#include <stddef.h>
#include <stdint.h>

#define KEY_MAX_LEN   4096   /* PATH_MAX */
#define KEY_NAME_MAX  255    /* NAME_MAX: the filesystem answers ENAMETOOLONG */

/* 0 if key[0..len) is a valid key, else a QERR_ code with *err set. */
int key_validate(const char *key, size_t len, char **err);

/*
 * Like key_validate, for a directory path to list: "/" is valid here and
 * means the root.
 */
int key_validate_dir(const char *dir, size_t len, char **err);

/* The key's position on the consistent-hash ring. */
uint64_t key_hash(const char *key, size_t len);

/*
 * Split a valid key into its parent directory and last name: for "/a/b/c"
 * the parent is "/a/b" (parent_len 4) and the name starts at offset 5; for
 * "/c" the parent is "" (the root, parent_len 0) and the name is at 1.
 */
void key_split(const char *key, size_t len, size_t *parent_len,
    size_t *name_off);

#endif
