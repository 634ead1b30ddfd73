/* sandbox/cli/remote_cli.h: the remote options every verb that talks to a
 * registry shares (README "Many executors"): `--remote URL` or
 * $WSBOX_REMOTE, `--remote-insecure`, `--remote-compression zstd|gzip`,
 * and the owner pulled layers get (sandbox/identity.h). */
#ifndef WSBOX_CLI_REMOTE_CLI_H
#define WSBOX_CLI_REMOTE_CLI_H

#include <stdbool.h>

#include "layers/remote.h"
#include "layers/store.h"

struct remote_cli {
	const char *url;	 /* --remote URL; NULL: $WSBOX_REMOTE */
	bool insecure;		 /* --remote-insecure */
	const char *compression; /* --remote-compression; NULL: zstd */
};

/* The remote to use: --remote, else a non-empty $WSBOX_REMOTE, else
 * NULL. */
const char *remote_cli_url(const struct remote_cli *o);

/* Is `name` a --remote-compression value? */
bool remote_cli_compression_valid(const char *name);

/* Open the remote of `o` for store `s` (pulled layers owned by
 * `owner_uid`:`owner_gid`). 0 and nothing opened when there is none
 * (*opened false). */
int remote_cli_open(const struct remote_cli *o, uid_t owner_uid,
		    gid_t owner_gid, struct remote *rm, bool *opened,
		    struct wsbox_error *err);

/* The same for a store verb: the owner is identity_layer_owner's, and no
 * remote at all is refused. */
int remote_cli_open_for(const struct remote_cli *o, const struct store *s,
			const char *verb, struct remote *rm,
			struct wsbox_error *err);

#endif
