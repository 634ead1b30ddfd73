/* layers/layer: published layers in the store (layers/<hex>/{tree,manifest}).
 * A layer is published by renaming a fully written staging directory into
 * place, so it appears whole or not at all; identical content published
 * twice is stored once (the second rename finds the digest taken). */
#ifndef WSBOX_LAYERS_LAYER_H
#define WSBOX_LAYERS_LAYER_H

#include <stdbool.h>

#include "layers/capture.h"
#include "layers/manifest.h"
#include "layers/store.h"

/* Every entry of a published layer (file, dir, symlink) and everything
 * `wsbox restore` materializes carries this mtime and atime:
 * 1980-01-02T00:00:00Z, the earliest time every archive format (zip's DOS
 * time too, in any time zone) can hold. A descendant then sees all its
 * ancestors' outputs with equal times, so make and ninja in it treat them
 * as up to date (they rebuild only what is *newer*), while whatever the task
 * itself writes is newer; and reusing an identical layer published long ago
 * can never make a file look older than its new ancestors (README "Time
 * stamps"). Times are not part of the manifest or its digest. */
#define LAYER_MTIME 315619200

/* Set LAYER_MTIME as the atime and mtime of `name` below dirfd, never
 * following a symlink; name NULL: of dirfd itself (not an O_PATH fd).
 * 0 or -errno. */
int layer_stamp_at(int dirfd, const char *name);

/* Publish the captured tree at a->dir/<tree_name> with its manifest: write
 * the manifest beside it, flush the filesystem, rename into
 * layers/<hex>. Fills `digest` ("sha256:<hex>"). */
int layer_publish(struct store *s, struct attempt *a, const char *tree_name,
		  const struct manifest *m, char digest[DIGEST_STRLEN],
		  struct wsbox_error *err);
/* The same, calling before_sync(ctx, digest, err) just before the syncfs
 * when the layer is new (a failure there stops the publication), so the
 * caller's own unflushed writes ride on that flush (exec: the task
 * record's temporary file, record_stage). *synced says whether the syncfs
 * ran after before_sync. */
int layer_publish_sync(struct store *s, struct attempt *a,
		       const char *tree_name, const struct manifest *m,
		       char digest[DIGEST_STRLEN],
		       int (*before_sync)(void *ctx, const char *digest,
					  struct wsbox_error *err),
		       void *ctx, bool *synced, struct wsbox_error *err);

/* The one line for a store whose disk is full, whichever step found it
 * (capture's copy, publication): "store DIR: no space left on device",
 * errnum ENOSPC. Returns -ENOSPC. */
int layer_fail_nospace(const struct store *s, struct wsbox_error *err);

/* Fills the empty tree directory `tree` (an O_RDONLY dir fd, mode 0755)
 * of a layer being built; returns 0 or a negative errno with err set. */
typedef int layer_fill_fn(int tree, void *ctx, struct wsbox_error *err);

/* The one way a layer is made outside exec: stage a fresh attempt, let
 * `fill(tree, ctx, err)` populate its tree, give the tree's root the owner
 * in `opts` (unless (uid_t)-1), capture it with `opts`, publish it and
 * always discard the attempt, so a failure at any step leaves nothing in
 * the store. Fills `digest`. (exec keeps its own sequence: its sandbox and
 * the result's compare-and-swap sit between staging and publishing.) */
int layer_build(struct store *s, layer_fill_fn *fill, void *ctx,
		const struct capture_options *opts, char digest[DIGEST_STRLEN],
		struct wsbox_error *err);

/* Validate "sha256:<64 lowercase hex>"; returns the hex part or NULL. */
const char *layer_digest_hex(const char *digest);

/* Fewest hex digits a digest prefix may have (as git's short ids). */
#define LAYER_PREFIX_MIN 8

/* A layer digest as a user writes it: "sha256:<64 hex>", "<64 hex>", or a
 * prefix of at least LAYER_PREFIX_MIN hex digits (with or without
 * "sha256:", any case) that names exactly one layer in the store. Fills
 * `out` with "sha256:<64 lowercase hex>". A full digest is not looked up
 * (whether the layer exists is the caller's question). Errors carry no
 * errno text: -EINVAL not a digest or too short a prefix, -ENOENT no layer
 * has the prefix, -ENOTUNIQ several have it (their count is said). */
int layer_resolve_digest(const struct store *s, const char *arg,
			 char out[DIGEST_STRLEN], struct wsbox_error *err);

/* Is `name` a layer directory name (64 lowercase hex digits)? */
bool layer_name_valid(const char *name);

/* Absolute path of a layer's tree (heap). */
char *layer_tree_path(const struct store *s, const char *digest);

/* Does the layer exist in the store (tree and manifest)? */
bool layer_exists(const struct store *s, const char *digest);

/* The digest of a layer with no entries (what a task that wrote nothing
 * publishes): such a layer adds nothing to a workspace. */
void layer_empty_digest(char out[DIGEST_STRLEN]);

/* 0 if the layer exists, else "layer D: missing" (ENOENT) in err. */
int layer_require(const struct store *s, const char *digest,
		  struct wsbox_error *err);

/* The layer's tree, opened O_PATH beneath the store (no link followed on
 * the way); a new fd or -errno. */
int layer_open_tree(const struct store *s, const char *digest);

/* Read a layer's manifest text (heap, *text) and check that it hashes to
 * `digest`, without parsing it: "layer D: missing" when it is not there,
 * "... (corrupt)" when it does not match. */
int layer_read_manifest(const struct store *s, const char *digest, char **text,
			size_t *len, struct wsbox_error *err);

/* Load and parse a layer's manifest, checking that it hashes to `digest`. */
int layer_load_manifest(const struct store *s, const char *digest,
			struct manifest *m, struct wsbox_error *err);

#endif
