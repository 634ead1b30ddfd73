/* layers/registry_url.c: the remote's names (see registry.h): parsing a
 * remote URL (scheme, loopback rule for plain http, distribution's
 * repository grammar), tags, and joining and resolving upload Locations. */
#include "layers/registry.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layers/registry_int.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

static bool port_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > 5 || strspn(p, "0123456789") != n || p[0] == '0')
		return false;
	return atoi(p) <= 65535;
}

/* Fills `host` (brackets of an IPv6 literal removed); false when the
 * authority is not HOST[:PORT]. */
static bool authority_split(const char *auth, char *host, size_t cap)
{
	const char *port = NULL;
	size_t hl;
	if (auth[0] == '[') {
		const char *close = strchr(auth, ']');
		if (!close)
			return false;
		hl = (size_t)(close - auth - 1);
		if (hl == 0 || hl >= cap)
			return false;
		memcpy(host, auth + 1, hl);
		host[hl] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return false;
	} else {
		const char *colon = strchr(auth, ':');
		hl = colon ? (size_t)(colon - auth) : strlen(auth);
		if (hl == 0 || hl >= cap)
			return false;
		memcpy(host, auth, hl);
		host[hl] = '\0';
		const char *ok = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
		if (strspn(host, ok) != hl || host[0] == '-' || host[0] == '.')
			return false;
		if (colon)
			port = colon + 1;
	}
	return !port || port_valid(port);
}

/* distribution's path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*. */
static bool repo_component_valid(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		size_t alnum = 0;
		while (i < n && (islower((unsigned char)s[i]) ||
				 isdigit((unsigned char)s[i]))) {
			i++;
			alnum++;
		}
		if (alnum == 0)
			return false;
		if (i == n)
			return true;
		size_t sep = i;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else
			while (i < n && s[i] == '-')
				i++;
		if (i == sep)
			return false;
	}
}

static bool repo_valid(const char *repo)
{
	size_t n = strlen(repo);
	if (n == 0 || n > 255)
		return false;
	for (const char *p = repo;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!repo_component_valid(p, len))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

void registry_url_free(struct registry_url *u)
{
	free(u->scheme);
	free(u->authority);
	free(u->repo);
	free(u->base);
	free(u->url);
	*u = (struct registry_url){0};
}

int registry_url_parse(const char *url, bool insecure, struct registry_url *u,
		       struct wsbox_error *err)
{
	*u = (struct registry_url){0};
	const char *rest;
	bool http = false;
	if (!strncmp(url, "https://", 8))
		rest = url + 8;
	else if (!strncmp(url, "http://", 7))
		rest = url + 7, http = true;
	else
		return wsbox_fail(
		    err, 0, "remote %s: not an https:// or http:// URL", url);
	if (strpbrk(url, "@?#% \t\r\n"))
		return wsbox_fail(err, 0,
				  "remote %s: user, query, fragment or escapes "
				  "are not allowed in a remote URL",
				  url);
	const char *slash = strchr(rest, '/');
	if (!slash || !slash[1])
		return wsbox_fail(err, 0,
				  "remote %s: no repository (expected "
				  "https://HOST[:PORT]/REPO/PATH)",
				  url);
	_cleanup_free_ char *auth = strndup(rest, (size_t)(slash - rest));
	char host[256];
	if (!auth || !authority_split(auth, host, sizeof host))
		return wsbox_fail(err, 0, "remote %s: bad host or port", url);
	if (!repo_valid(slash + 1))
		return wsbox_fail(err, 0,
				  "remote %s: bad repository name (lowercase "
				  "[a-z0-9] components joined by . _ -)",
				  url);
	bool loopback = host_is_loopback(host);
	if (http && !loopback && !insecure)
		return wsbox_fail(err, 0,
				  "remote %s: plain http only to a loopback "
				  "host (or with --remote-insecure)",
				  url);
	u->scheme = xstrdup(http ? "http" : "https");
	u->authority = steal_pointer(&auth);
	u->repo = xstrdup(slash + 1);
	u->base = xasprintf("%s://%s", u->scheme, u->authority);
	u->url = xasprintf("%s/%s", u->base, u->repo);
	u->loopback = loopback;
	return 0;
}

bool registry_tag_valid(const char *tag)
{
	size_t n = strlen(tag);
	const char *rest = "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	if (n == 0 || n > REGISTRY_TAG_MAX || tag[0] == '.' || tag[0] == '-')
		return false;
	return strspn(tag, rest) == n;
}

char *registry_location_join(const char *location, const char *digest)
{
	const char *hex = strchr(digest, ':');
	return xasprintf("%s%cdigest=%.*s%%3A%s", location,
			 strchr(location, '?') ? '&' : '?',
			 hex ? (int)(hex - digest) : 0, digest,
			 hex ? hex + 1 : digest);
}

bool registry_url_header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int registry_location_resolve(const struct registry_url *u,
			      const char *location, char **out,
			      struct wsbox_error *err)
{
	size_t bl = strlen(u->base);
	if (!location || !location[0] || !registry_url_header_safe(location))
		return wsbox_fail(err, 0, "remote %s: bad Location header",
				  u->url);
	if (location[0] == '/' && location[1] != '/') {
		*out = xasprintf("%s%s", u->base, location);
		return 0;
	}
	if (!strncmp(location, u->base, bl) && location[bl] == '/') {
		*out = xstrdup(location);
		return 0;
	}
	return wsbox_fail(err, 0,
			  "remote %s: refusing a Location on another host "
			  "(%.200s)",
			  u->url, location);
}
