/* layers/copy_ws.c: populate, snapshot and diff the copy strategy's
 * workspace (copy_ws.h). The workspace is hostile after the task: the diff
 * opens every entry relative to its parent's fd without following links,
 * and only descends into directories that are still the snapshot's
 * inodes, so its depth is that of the lowers; a directory the task made or
 * replaced moves into the upper tree whole (one rename) for capture to
 * walk. */
#include "layers/copy_ws.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/apply.h"
#include "layers/manifest.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* Directory levels below the workspace root that the walks follow. On the
 * workspace side a walk holds O(1) fds (a parent is closed while its child
 * is walked and reopened through ".."); the upper dirs the diff makes along
 * a changed path hold one fd each. A tree the task makes is moved whole and
 * not walked here. */
#define COPY_WS_MAX_DEPTH 4096
#define OPAQUE_XATTR "user.overlay.opaque"

/* What identifies an entry's inode and its last change. The birth time
 * tells a new inode from the old one when the filesystem reuses the
 * number at once (ext4 does for `rm -rf d; mkdir d`); where statx has no
 * birth time it stays 0 and the inode number alone decides. */
struct ent {
	uint64_t ino;
	uint32_t mode;
	uint64_t size;
	struct statx_timestamp ctime, btime;
};

static int ent_stat(int dirfd, const char *name, struct ent *e,
		    struct wsbox_error *err)
{
	struct statx x;
	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH,
		  STATX_BASIC_STATS | STATX_BTIME, &x) < 0)
		return wsbox_fail(err, errno, "stat `%s`",
				  name[0] ? name : ".");
	*e = (struct ent){
	    .ino = x.stx_ino,
	    .mode = x.stx_mode,
	    .size = x.stx_size,
	    .ctime = x.stx_ctime,
	};
	if (x.stx_mask & STATX_BTIME)
		e->btime = x.stx_btime;
	return 0;
}

static bool ts_eq(const struct statx_timestamp *a,
		  const struct statx_timestamp *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

struct copy_ws_node {
	char *name;
	struct ent e;
	struct copy_ws_node *kids; /* directories: sorted by name */
	size_t n_kids;
};

static void node_free(struct copy_ws_node *n)
{
	for (size_t i = 0; i < n->n_kids; i++)
		node_free(&n->kids[i]);
	free(n->kids);
	free(n->name);
}

void copy_ws_free(struct copy_ws *ws)
{
	if (ws->root) {
		node_free(ws->root);
		free(ws->root);
	}
	ws->root = NULL;
	ws->entries = 0;
}

/* Every name of the directory `fd`, sorted by bytes. */
static int list_names(int fd, char ***out, size_t *n_out,
		      struct wsbox_error *err)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return wsbox_fail(err, errno, "dup");
	DIR *d = fdopendir(dup);
	if (!d) {
		close(dup);
		return wsbox_fail(err, errno, "fdopendir");
	}
	rewinddir(d);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xreallocarray(names, cap, sizeof *names);
		}
		names[n++] = xstrdup(e->d_name);
		errno = 0;
	}
	int e2 = errno;
	closedir(d);
	if (e2) {
		free_strings(names, n);
		return wsbox_fail(err, e2, "read directory");
	}
	if (n > 1)
		qsort(names, n, sizeof *names, strcmp_ptr);
	*out = names;
	*n_out = n;
	return 0;
}

/* The parent of the directory `child` again, through its "..", checked
 * against the device and inode it had (a fd or a negative errno). */
static int reopen_parent(int child, const struct stat *was,
			 struct wsbox_error *err)
{
	int fd = openat(child, "..",
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "reopen a directory");
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_dev != was->st_dev ||
	    st.st_ino != was->st_ino) {
		close(fd);
		return wsbox_fail(err, EAGAIN,
				  "directory moved during the walk");
	}
	return fd;
}

/* Walk into dirfd's child `sub` with *dirfd closed meanwhile: step(sub)
 * runs, then *dirfd is the parent again. */
static int descend(int *dirfd, int sub,
		   int (*step)(void *ctx, int *sub, struct wsbox_error *err),
		   void *ctx, struct wsbox_error *err)
{
	struct stat pst;
	if (fstat(*dirfd, &pst) < 0) {
		close(sub);
		return wsbox_fail(err, errno, "stat a directory");
	}
	close(*dirfd);
	*dirfd = -1;
	int r = step(ctx, &sub, err);
	if (r == 0) {
		*dirfd = reopen_parent(sub, &pst, err);
		if (*dirfd < 0)
			r = *dirfd;
	}
	if (sub >= 0)
		close(sub);
	return r;
}

static int snap_dir(struct copy_ws *ws, int *fd, struct copy_ws_node *node,
		    uid_t uid, gid_t gid, unsigned depth,
		    struct wsbox_error *err);

struct snap_step {
	struct copy_ws *ws;
	struct copy_ws_node *k;
	uid_t uid;
	gid_t gid;
	unsigned depth;
	mode_t mode; /* the directory's own, restored after its walk */
};

/* A directory of the snapshot: its children, then its own stat (a chmod
 * for the walk changes its ctime, so it is read after the mode is back). */
static int snap_step(void *ctx, int *sub, struct wsbox_error *err)
{
	struct snap_step *s = ctx;
	int r = snap_dir(s->ws, sub, s->k, s->uid, s->gid, s->depth, err);
	if (r == 0 && fchmod(*sub, s->mode) < 0)
		r = wsbox_fail(err, errno, "chmod `%s`", s->k->name);
	if (r == 0)
		r = ent_stat(*sub, "", &s->k->e, err);
	return r;
}

/* Snapshot the directory *fd into `node` (whose own stat is set), giving
 * each entry to uid:gid first. */
static int snap_dir(struct copy_ws *ws, int *fd, struct copy_ws_node *node,
		    uid_t uid, gid_t gid, unsigned depth,
		    struct wsbox_error *err)
{
	if (depth > COPY_WS_MAX_DEPTH)
		return wsbox_fail(err, ELOOP,
				  "workspace deeper than %d directories "
				  "(use another --strategy)",
				  COPY_WS_MAX_DEPTH);
	char **names;
	size_t n;
	int r = list_names(*fd, &names, &n, err);
	if (r < 0)
		return r;
	node->kids = xcalloc(n ? n : 1, sizeof *node->kids);
	node->n_kids = n;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct copy_ws_node *k = &node->kids[i];
		k->name = names[i];
		names[i] = NULL;
		ws->entries++;
		if (uid != (uid_t)-1 &&
		    fchownat(*fd, k->name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
			r = wsbox_fail(err, errno, "chown `%s`", k->name);
			break;
		}
		r = ent_stat(*fd, k->name, &k->e, err);
		if (r < 0 || !S_ISDIR(k->e.mode))
			continue;
		/* A layer may hold a directory its owner cannot list (the
		 * task that made it removed the bits): lend them. */
		mode_t mode = k->e.mode & 07777;
		if ((mode & 0700) != 0700 &&
		    fchmodat(*fd, k->name, mode | 0700, 0) < 0) {
			r = wsbox_fail(err, errno, "chmod `%s`", k->name);
			break;
		}
		int sub =
		    openat(*fd, k->name,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			r = wsbox_fail(err, errno, "open `%s`", k->name);
			break;
		}
		struct snap_step step = {ws, k, uid, gid, depth + 1, mode};
		r = descend(fd, sub, snap_step, &step, err);
	}
	free_strings(names, n);
	return r;
}

int copy_ws_populate(const struct store *s, char *const *digests, size_t n,
		     const char *dir, uid_t uid, gid_t gid, struct copy_ws *ws,
		     struct wsbox_error *err)
{
	*ws = (struct copy_ws){0};
	if (mkdir(dir, 0755) < 0)
		return wsbox_fail(err, errno, "mkdir `%s`", dir);
	_cleanup_close_ int fd =
	    open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s`", dir);
	int r = layers_apply(s, digests, n, fd, err);
	if (r < 0)
		return r;
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
		return wsbox_fail(err, errno, "chown `%s`", dir);
	ws->root = xcalloc(1, sizeof *ws->root);
	ws->root->name = xstrdup("");
	r = snap_dir(ws, &fd, ws->root, uid, gid, 0, err);
	if (r < 0) {
		wsbox_error_prefix(err, "copy workspace");
		copy_ws_free(ws);
		return r;
	}
	return ent_stat(fd, "", &ws->root->e, err);
}

/* One directory of the upper tree being built: made on first need. */
struct level {
	struct level *parent;
	const char *name;
	int fd; /* -1 until made */
};

static int level_make(struct level *l, struct wsbox_error *err)
{
	if (l->fd >= 0)
		return 0;
	int r = level_make(l->parent, err);
	if (r < 0)
		return r;
	if (mkdirat(l->parent->fd, l->name, 0700) < 0)
		return wsbox_fail(err, errno, "mkdir upper `%s`", l->name);
	l->fd = openat(l->parent->fd, l->name,
		       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (l->fd < 0)
		return wsbox_fail(err, errno, "open upper `%s`", l->name);
	return 0;
}

/* Give a directory owner write permission for a moment (a rename updates
 * its "..", a user.* xattr needs it); move_up restores its mode. */
static int dir_writable(int dirfd, const char *name, const struct ent *st,
			struct wsbox_error *err)
{
	if (S_ISDIR(st->mode) && !(st->mode & 0200) &&
	    fchmodat(dirfd, name, (st->mode & 07777) | 0700, 0) < 0)
		return wsbox_fail(err, errno, "chmod `%s`", name);
	return 0;
}

static int mark_opaque(int dirfd, const char *name, struct wsbox_error *err)
{
	_cleanup_close_ int fd = openat(
	    dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)
		return wsbox_fail(err, errno, "mark `%s` opaque", name);
	return 0;
}

/* Move wsfd/name (added, changed or a replacement) into the upper level;
 * a directory that stands where the lowers had an entry becomes opaque. */
static int move_up(int wsfd, const char *name, const struct ent *st,
		   bool replaces, struct level *lv, struct wsbox_error *err)
{
	int r = level_make(lv, err);
	if (r < 0)
		return r;
	mode_t mode = st->mode & 07777;
	r = dir_writable(wsfd, name, st, err);
	if (r < 0)
		return r;
	if (renameat(wsfd, name, lv->fd, name) < 0)
		return wsbox_fail(err, errno, "move `%s` to the upper dir",
				  name);
	if (S_ISDIR(st->mode) && replaces) {
		r = mark_opaque(lv->fd, name, err);
		if (r < 0)
			return r;
	}
	if (S_ISDIR(st->mode) && fchmodat(lv->fd, name, mode, 0) < 0)
		return wsbox_fail(err, errno, "chmod upper `%s`", name);
	return 0;
}

static const struct copy_ws_node *find_kid(const struct copy_ws_node *n,
					   const char *name, size_t *at)
{
	size_t lo = 0, hi = n->n_kids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, n->kids[mid].name);
		if (c == 0) {
			*at = mid;
			return &n->kids[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static bool same_inode(const struct copy_ws_node *k, const struct ent *st)
{
	return k->e.ino == st->ino &&
	       (k->e.mode & S_IFMT) == (st->mode & S_IFMT) &&
	       ts_eq(&k->e.btime, &st->btime);
}

static bool unchanged(const struct copy_ws_node *k, const struct ent *st)
{
	return k->e.mode == st->mode && k->e.size == st->size &&
	       ts_eq(&k->e.ctime, &st->ctime);
}

static int diff_dir(const struct copy_ws_node *node, int *wsfd,
		    struct level *lv, unsigned depth, struct wsbox_error *err);

struct diff_step {
	const struct copy_ws_node *k;
	struct level *child;
	unsigned depth;
};

static int diff_step(void *ctx, int *sub, struct wsbox_error *err)
{
	struct diff_step *s = ctx;
	return diff_dir(s->k, sub, s->child, s->depth, err);
}

/* A directory that is still the snapshot's: descend; it goes into the
 * upper tree (with its mode) when it changed itself or anything below. */
static int diff_kept_dir(const struct copy_ws_node *k, int *wsfd,
			 const char *name, const struct ent *st,
			 struct level *lv, unsigned depth,
			 struct wsbox_error *err)
{
	mode_t mode = st->mode & 07777;
	if ((st->mode & 0700) != 0700 &&
	    fchmodat(*wsfd, name, mode | 0700, 0) < 0)
		return wsbox_fail(err, errno, "chmod `%s`", name);
	int sub = openat(*wsfd, name,
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return wsbox_fail(err, errno, "open `%s`", name);
	struct stat now;
	if (fstat(sub, &now) < 0 || now.st_ino != st->ino) {
		close(sub);
		return wsbox_fail(err, EAGAIN, "`%s` changed during capture",
				  name);
	}
	struct level child = {.parent = lv, .name = name, .fd = -1};
	struct diff_step step = {k, &child, depth + 1};
	int r = descend(wsfd, sub, diff_step, &step, err);
	if (r == 0 && !unchanged(k, st))
		r = level_make(&child, err);
	if (r == 0 && child.fd >= 0 && fchmod(child.fd, mode) < 0)
		r = wsbox_fail(err, errno, "chmod upper `%s`", name);
	if (child.fd >= 0)
		close(child.fd);
	return r;
}

static int diff_dir(const struct copy_ws_node *node, int *wsfd,
		    struct level *lv, unsigned depth, struct wsbox_error *err)
{
	if (depth > COPY_WS_MAX_DEPTH)
		return wsbox_fail(err, ELOOP, "workspace deeper than %d",
				  COPY_WS_MAX_DEPTH);
	char **names;
	size_t n;
	int r = list_names(*wsfd, &names, &n, err);
	if (r < 0)
		return r;
	_cleanup_free_ bool *seen = xcalloc(node->n_kids + 1, sizeof *seen);
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name = names[i];
		struct ent st;
		r = ent_stat(*wsfd, name, &st, err);
		if (r < 0)
			break;
		size_t at = 0;
		const struct copy_ws_node *k = find_kid(node, name, &at);
		if (k)
			seen[at] = true;
		if (k && same_inode(k, &st) && S_ISDIR(st.mode))
			r = diff_kept_dir(k, wsfd, name, &st, lv, depth, err);
		else if (!k || !same_inode(k, &st) || !unchanged(k, &st))
			r = move_up(*wsfd, name, &st, k != NULL, lv, err);
	}
	/* What the lowers had and the task removed: a whiteout each. */
	for (size_t i = 0; i < node->n_kids && r == 0; i++) {
		if (seen[i])
			continue;
		r = level_make(lv, err);
		if (r == 0 && mknodat(lv->fd, node->kids[i].name,
				      S_IFCHR | 0000, makedev(0, 0)) < 0)
			r = wsbox_fail(err, errno, "whiteout `%s`",
				       node->kids[i].name);
	}
	free_strings(names, n);
	return r;
}

int copy_ws_diff(const struct copy_ws *ws, int ws_fd, int upper_fd,
		 struct wsbox_error *err)
{
	struct level top = {.name = "", .fd = upper_fd};
	/* Our own fd: the walk closes and reopens it. */
	_cleanup_close_ int fd = fcntl(ws_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return wsbox_fail(err, errno, "dup");
	int r = diff_dir(ws->root, &fd, &top, 0, err);
	if (r < 0)
		wsbox_error_prefix(err, "copy workspace");
	return r;
}
