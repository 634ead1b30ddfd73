/* `wsbox gc [--store DIR] [--dry-run] [--cache-max-bytes SIZE]`: reclaim what
 * dead attempts left and what nothing references any more (layers/gc.h).
 * In root mode with a range allocation file it also takes back the id
 * blocks of removed runs and ended one-off execs (sandbox/cli/run_ids.h).
 * `wsbox gc --release-tenant NAME`: give a tenant's id block back to the
 * range allocation file (sandbox/idrange_alloc.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "layers/gc.h"
#include "layers/store.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/exec_opts.h"
#include "sandbox/cli/run_ids.h"
#include "sandbox/cli/usage.h"
#include "sandbox/idrange_alloc.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox gc [--store DIR] [--dry-run] "
	      "[--cache-max-bytes SIZE]\n"
	      "       wsbox gc --release-tenant NAME\n"
	      "Remove what dead attempts left in staging and the layers no "
	      "run record,\ncache entry or live attempt references. In root "
	      "mode with a range\nallocation file, also free the id blocks "
	      "of removed runs and ended one-off\nexecs.\n"
	      "\noptions:\n"
	      "  --store DIR              the store (default: $WSBOX_STORE, "
	      "else\n"
	      "                           ~/.local/share/wsbox; root: "
	      "/var/lib/wsbox)\n"
	      "  --dry-run                say what would go; remove nothing\n"
	      "  --cache-max-bytes SIZE   also evict the least recently used "
	      "cache entries\n"
	      "                           until the cache fits SIZE\n"
	      "  --release-tenant NAME    root mode: free NAME's id block "
	      "in the range\n"
	      "                           allocation file (refused while "
	      "it runs a task)\n"
	      "  -h, --help               print this help and exit\n"
	      "\nexit status: 0 done; 125 failed\n",
	      f);
	return status;
}

/* A tenant's block is host-wide, not the store's: no store is opened. */
static int release_tenant(const char *name)
{
	struct wsbox_error err = {0};
	struct idrange_owner who = {.kind = IDRANGE_TENANT, .name = name};
	if (idrange_alloc_release(idrange_alloc_file(), &who, &err) < 0)
		return wsbox_error_exit(&err);
	printf("gc: released tenant %s (ids %lu-%lu)\n", name, who.base,
	       who.base + IDRANGE_BLOCK - 1);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}

int cmd_gc(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"store", required_argument, NULL, 's'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"cache-max-bytes", required_argument, NULL, 'c'},
	    {"release-tenant", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct wsbox_error err = {0};
	const char *store_opt = NULL, *tenant = NULL;
	struct gc_options o = {.log = stdout};
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			store_opt = optarg;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'c':
			if (parse_size(optarg, &o.cache_max_bytes) < 0) {
				wsbox_fail(
				    &err, 0,
				    "--cache-max-bytes `%s`: want a size "
				    "like 500M or 2G",
				    optarg);
				return wsbox_error_exit(&err);
			}
			o.has_budget = true;
			break;
		case 'r':
			tenant = optarg;
			break;
		case 'h':
			return usage(stdout, 0);
		case ':':
			return usage_refuse("gc", "option `%s` needs a value",
					    argv[optind - 1]);
		default:
			return usage_unknown_option("gc", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_refuse("gc", "unexpected argument `%s`",
				    argv[optind]);
	if (tenant)
		return release_tenant(tenant);
	_cleanup_free_ char *path = store_default_path(store_opt);
	struct store s;
	if (store_open(path, false, &s, &err) < 0)
		return wsbox_error_exit(&err);
	struct gc_stats st;
	int r = gc_run(&s, &o, &st, &err);
	/* After the store's part: a run removed meanwhile is gone either way.
	 */
	if (r == 0)
		r = run_ids_reclaim(&s, o.dry_run, stdout, &err);
	store_close(&s);
	if (r < 0)
		return wsbox_error_exit(&err);
	printf("gc: %s %zu staging dirs, %zu layers (%llu bytes), %zu cache "
	       "entries (%llu bytes), %zu temp files; %zu live attempts kept\n",
	       o.dry_run ? "would remove" : "removed", st.staging, st.layers,
	       (unsigned long long)st.layer_bytes, st.cache_entries,
	       (unsigned long long)st.cache_bytes, st.tmp_files,
	       st.kept_staging);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}
