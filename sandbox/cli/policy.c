/* `wsbox policy ls | show NAME | check FILE`: list, print and validate seccomp
 * policies. The profiles listed and shown are the ones embedded in the binary,
 * i.e. exactly what `--policy NAME` runs. */
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/usage.h"
#include "sandbox/util/error.h"

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox policy ls\n"
	      "       wsbox policy show NAME\n"
	      "       wsbox policy check FILE\n"
	      "The seccomp policies `wsbox exec --policy` takes.\n"
	      "\n"
	      "  ls          list the built-in profiles, one line each\n"
	      "  show NAME   print a built-in profile's source\n"
	      "  check FILE  parse and compile a policy file; print its rule "
	      "count\n"
	      "  -h, --help  print this help and exit\n"
	      "\nexit status: 0 done; 125 failed or refused\n",
	      f);
	return status;
}

/* The description is the first comment line: "# name: what it does". */
static void print_description(const struct policy_profile *p)
{
	const char *s = p->text, *end = p->text + p->len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (n > 0 && s[0] == '#') {
			const char *d = s + 1;
			while (d < s + n && (*d == ' ' || *d == '\t'))
				d++;
			size_t name = strlen(p->name);
			/* Drop a leading "name:" that repeats the column. */
			if ((size_t)(s + n - d) > name + 1 &&
			    strncmp(d, p->name, name) == 0 && d[name] == ':') {
				d += name + 1;
				while (d < s + n && *d == ' ')
					d++;
			}
			printf("%-12s %.*s\n", p->name, (int)(s + n - d), d);
			return;
		}
		s += n + 1;
	}
	printf("%s\n", p->name);
}

/* Refuse a command line that names no known form: say which part is off. */
static int bad_usage(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1])
			return usage_unknown_option("policy", argv[i]);
	const char *sub = argv[1];
	if (strcmp(sub, "ls") && strcmp(sub, "show") && strcmp(sub, "check"))
		return usage_refuse("policy", "unknown subcommand `%s`", sub);
	if (!strcmp(sub, "ls"))
		return usage_refuse("policy", "ls takes no argument");
	return usage_refuse("policy", "%s wants one %s", sub,
			    !strcmp(sub, "show") ? "NAME" : "FILE");
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 2)
		return usage_refuse("policy",
				    "want ls, show NAME or check FILE");
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(stdout, 0);
	const char *sub = argv[1];

	size_t n;
	const struct policy_profile *profiles = policy_profiles(&n);
	if (!strcmp(sub, "ls") && argc == 2) {
		for (size_t i = 0; i < n; i++)
			print_description(&profiles[i]);
		return 0;
	}
	if (!strcmp(sub, "show") && argc == 3) {
		for (size_t i = 0; i < n; i++)
			if (!strcmp(profiles[i].name, argv[2])) {
				fwrite(profiles[i].text, 1, profiles[i].len,
				       stdout);
				return fflush(stdout) == 0 ? 0
							   : WSBOX_EXIT_FAILURE;
			}
		struct wsbox_error err = {0};
		wsbox_fail(&err, 0,
			   "policy `%s`: no such profile (see `wsbox policy "
			   "ls`)",
			   argv[2]);
		wsbox_error_print(&err);
		return WSBOX_EXIT_FAILURE;
	}
	if (!strcmp(sub, "check") && argc == 3) {
		struct wsbox_error err = {0};
		struct policy_options opts = {.bpf_cache_dir = NULL,
					      .squash_chown = false};
		unsigned rules = 0;
		if (policy_check(argv[2], &opts, &rules, &err) < 0) {
			wsbox_error_print(&err);
			return WSBOX_EXIT_FAILURE;
		}
		printf("ok: %s: %u rules\n", argv[2], rules);
		return 0;
	}
	return bad_usage(argc, argv);
}
