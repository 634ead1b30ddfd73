/* layers/store: the on-disk store and its layout. Everything wsbox keeps
 * lives below one directory owned by one user:
 *
 *   VERSION                     "wsbox-store 1"
 *   layers/<hex>/tree/          a published layer (read-only tree)
 *   layers/<hex>/manifest       its canonical manifest (digest = sha256 of it)
 *   runs/<run>/tasks/<task>     task record (JSON, replaced atomically)
 *   runs/<run>/logs/<attempt>.{out,err}
 *   staging/<attempt>/          private to one attempt: owner, upper/, work/,
 *                               root/ (mount point of the sandbox root)
 *   cache/                      cache entries; cache/bpf/ compiled policies
 *   empty/                      empty dir: the lower of a parentless task
 *   locks/                      short-lived per-task lock files
 *
 * Publication is always "write completely in staging, then rename", so a
 * crash leaves either the whole object or none; staging of dead attempts is
 * reclaimed by `wsbox gc`. */
#ifndef WSBOX_LAYERS_STORE_H
#define WSBOX_LAYERS_STORE_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/util/error.h"

struct store {
	char *path;	 /* absolute */
	int fd;		 /* O_PATH|O_DIRECTORY of path */
	uid_t owner_uid; /* who owns the store (and every layer on disk) */
	gid_t owner_gid;
};

/* --store, else $WSBOX_STORE, else $XDG_DATA_HOME/wsbox, else
 * ~/.local/share/wsbox; root without any of them: /var/lib/wsbox. */
char *store_default_path(const char *opt);

/* Open (creating the layout when `create`) the store at path. */
int store_open(const char *path, bool create, struct store *s,
	       struct wsbox_error *err);
void store_close(struct store *s);

struct attempt {
	char *id;    /* unique: <time>-<pid>-<random> */
	char *dir;   /* STORE/staging/<id> */
	char *upper; /* dir/upper */
	char *work;  /* dir/work */
	char *root;  /* dir/root */
	int dirfd;
};

/* Create a private staging area for one attempt, with an owner marker
 * (pid, process start time, boot id) so gc can tell dead attempts. */
int attempt_create(struct store *s, struct attempt *a, struct wsbox_error *err);
/* Remove the staging area (symlink-safe) and free `a`. */
int attempt_discard(struct store *s, struct attempt *a,
		    struct wsbox_error *err);
void attempt_free(struct attempt *a);

#endif
