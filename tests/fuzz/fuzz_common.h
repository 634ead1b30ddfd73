/* tests/fuzz: helpers shared by the fuzz targets (target_*.h), which are
 * compiled both into the libFuzzer harnesses (fuzz_*.c, `make fuzz`) and into
 * the cmocka replay test (tests/unit/test_fuzz_regress.c, `make test`). A
 * target returns one of the fuzz_result values; a negative value means an
 * invariant of the code under test broke (the harness aborts so libFuzzer
 * saves the input, the unit test fails). Header-only so that the unit test,
 * which the normal Makefile builds from a single source file, can use it. */
#ifndef WSBOX_TESTS_FUZZ_COMMON_H
#define WSBOX_TESTS_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

enum fuzz_result {
	FUZZ_BUG = -1,	   /* an invariant broke: a finding */
	FUZZ_REFUSED = 0,  /* the code under test rejected the input */
	FUZZ_ACCEPTED = 1, /* ... accepted it, and every check passed */
	FUZZ_SKIPPED = 2,  /* the harness filtered the input out */
};

static inline int fuzz_bug(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline int fuzz_bug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz invariant broken: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return FUZZ_BUG;
}

/* A refusal, printed when $WSBOX_FUZZ_VERBOSE is set (to see why a seed
 * named accept-* was refused); fuzzing runs stay quiet. */
static inline int fuzz_refused(const char *target, const char *msg)
{
	if (getenv("WSBOX_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz %s: refused: %s\n", target, msg);
	return FUZZ_REFUSED;
}

/* Scratch directories live on tmpfs when there is one: layer publication
 * calls syncfs(), which costs milliseconds per run on a disk filesystem. */
static inline char *fuzz_mkdtemp(const char *what)
{
	const char *env = getenv("WSBOX_FUZZ_TMPDIR");
	const char *base = env && *env ? env : NULL;
	if (!base)
		base =
		    access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	char *tmpl = xasprintf("%s/wsbox-fuzz-%s-XXXXXX", base, what);
	if (!mkdtemp(tmpl)) {
		fprintf(stderr, "fuzz: mkdtemp `%s`: %s\n", tmpl,
			strerror(errno));
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

/* Write a whole file (created or truncated). 0 or -errno. */
static inline int fuzz_write_file(const char *path, const void *data,
				  size_t len)
{
	_cleanup_close_ int fd =
	    open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	return write_all(fd, data, len);
}

/* The sorted names in directory `dirfd`/`path` (without . and ..), joined
 * with ' ' into a heap string, or NULL on error. Used to compare what a run
 * left behind with what was there before it. */
static inline char *fuzz_list_dir(int dirfd, const char *path)
{
	int fd = openat(dirfd, path,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n) /* qsort(NULL, 0, ...) is undefined */
		qsort(names, n, sizeof *names, strcmp_ptr);
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(names[i]) + 1;
	char *out = xcalloc(1, total);
	char *o = out;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		if (i)
			*o++ = ' ';
		memcpy(o, names[i], l);
		o += l;
		free(names[i]);
	}
	*o = '\0';
	free(names);
	return out;
}

/* Check that `dirfd`/`path` holds exactly `want` (fuzz_list_dir format). */
static inline int fuzz_expect_dir(int dirfd, const char *path, const char *want)
{
	_cleanup_free_ char *got = fuzz_list_dir(dirfd, path);
	if (!got)
		return fuzz_bug("cannot list `%s`: %s", path, strerror(errno));
	if (strcmp(got, want) != 0)
		return fuzz_bug("`%s` holds [%s], expected [%s]", path, got,
				want);
	return 0;
}

#endif
