/* Capture throughput driver for `make bench` and by hand: captures DIR in
 * place (no read-only, no save) and prints files, bytes and wall time, to be
 * compared with `sha256sum` over the same files.
 * Usage: capture_bench DIR [REPEAT] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "layers/capture.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [REPEAT]\n", argv[0]);
		return 2;
	}
	int repeat = argc > 2 ? atoi(argv[2]) : 1;
	for (int i = 0; i < repeat; i++) {
		int fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[1]);
			return 1;
		}
		struct capture_options o = {.owner_uid = (uid_t)-1,
					    .owner_gid = (gid_t)-1};
		struct manifest m = {0};
		struct capture_stats s;
		struct wsbox_error err = {0};
		double t0 = now();
		int r = capture_tree(fd, &o, &m, &s, &err);
		double t1 = now();
		close(fd);
		if (r < 0) {
			wsbox_error_print(&err);
			return 1;
		}
		printf("capture: %llu files %llu dirs %.1f MiB in %.3f s "
		       "(%.0f MiB/s)\n",
		       (unsigned long long)s.files, (unsigned long long)s.dirs,
		       (double)s.bytes / 1048576.0, t1 - t0,
		       (double)s.bytes / 1048576.0 / (t1 - t0));
		manifest_free(&m);
	}
	return 0;
}
