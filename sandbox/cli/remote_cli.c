/* sandbox/cli/remote_cli.c: --remote, $WSBOX_REMOTE and the remote's
 * options, turned into an open layers/remote (see remote_cli.h). */
#include "sandbox/cli/remote_cli.h"

#include <stdlib.h>
#include <string.h>

#include "sandbox/identity.h"

const char *remote_cli_url(const struct remote_cli *o)
{
	if (o->url)
		return o->url;
	const char *env = getenv("WSBOX_REMOTE");
	return env && *env ? env : NULL;
}

bool remote_cli_compression_valid(const char *name)
{
	return !strcmp(name, "zstd") || !strcmp(name, "gzip");
}

int remote_cli_open(const struct remote_cli *o, uid_t owner_uid,
		    gid_t owner_gid, struct remote *rm, bool *opened,
		    struct wsbox_error *err)
{
	*opened = false;
	const char *url = remote_cli_url(o);
	if (!url)
		return 0;
	bool gzip = o->compression && !strcmp(o->compression, "gzip");
	struct remote_options ro = {
	    .insecure = o->insecure,
	    .compression = gzip ? REMOTE_GZIP : REMOTE_ZSTD,
	    .set_owner = true,
	    .owner_uid = owner_uid,
	    .owner_gid = owner_gid,
	};
	int r = remote_open(rm, url, &ro, err);
	if (r < 0)
		return r;
	*opened = true;
	return 0;
}

int remote_cli_open_for(const struct remote_cli *o, const struct store *s,
			const char *verb, struct remote *rm,
			struct wsbox_error *err)
{
	uid_t uid;
	gid_t gid;
	identity_layer_owner(s->path, s->owner_uid, s->owner_gid, &uid, &gid);
	bool opened;
	int r = remote_cli_open(o, uid, gid, rm, &opened, err);
	if (r < 0)
		return r;
	if (!opened)
		return wsbox_fail(err, 0,
				  "%s: no remote (give --remote URL or set "
				  "$WSBOX_REMOTE)",
				  verb);
	return 0;
}
