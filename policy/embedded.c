/* The table of profiles embedded by policy/profiles.S, and where the
 * installed copies live. Adding a profile means a PROFILE() line there and an
 * entry here. */
#include "policy/policy.h"
#include "policy/policy_int.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DECLARE(name)                                                          \
	extern const char wsbox_profile_##name##_start[];                      \
	extern const char wsbox_profile_##name##_end[]

DECLARE(default);
DECLARE(strict);
DECLARE(permissive);

#define ENTRY(name)                                                            \
	{                                                                      \
#name, wsbox_profile_##name##_start,                           \
		    wsbox_profile_##name##_end                                 \
	}

static const struct {
	const char *name;
	const char *start, *end;
} table[] = {ENTRY(default), ENTRY(strict), ENTRY(permissive)};

#define NPROFILES (sizeof table / sizeof *table)

static struct policy_profile profiles[NPROFILES];

const struct policy_profile *policy_profiles(size_t *n)
{
	/* Filled on every call: the values are link-time constants, so this
	 * is idempotent and needs no once-guard. */
	for (size_t i = 0; i < NPROFILES; i++)
		profiles[i] = (struct policy_profile){
		    .name = table[i].name,
		    .text = table[i].start,
		    .len = (size_t)(table[i].end - table[i].start)};
	*n = NPROFILES;
	return profiles;
}

const char *policy_embedded(const char *name, size_t *len)
{
	for (size_t i = 0; i < NPROFILES; i++)
		if (strcmp(table[i].name, name) == 0) {
			*len = (size_t)(table[i].end - table[i].start);
			return table[i].start;
		}
	return NULL;
}

const char *policy_profile_dir(void)
{
	/* `make install` copies the profiles to PREFIX/share/wsbox/policy
	 * next to PREFIX/bin/wsbox; a build tree has them in
	 * policy/profiles beside the binary. The embedded copies are what
	 * runs either way. */
	static char dir[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	static const char *const rel[] = {"../share/wsbox/policy",
					  "policy/profiles"};
	for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
		int w = snprintf(dir, sizeof dir, "%s/%s", exe, rel[i]);
		if (w > 0 && (size_t)w < sizeof dir && access(dir, R_OK) == 0)
			return dir;
	}
	return NULL;
}
