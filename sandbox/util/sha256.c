/* sandbox/util/sha256.c: SHA-256 through libcrypto's low-level API (see
 * sha256.h for why not EVP). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sandbox/util/sha256.h"

#include <errno.h>
#include <openssl/sha.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(struct sha256),
	       "struct sha256 too small for SHA256_CTX");

void sha256_init(struct sha256 *s)
{
	SHA256_Init((SHA256_CTX *)s->state);
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	SHA256_Update((SHA256_CTX *)s->state, data, len);
}

void sha256_final(struct sha256 *s, unsigned char out[32])
{
	SHA256_Final(out, (SHA256_CTX *)s->state);
}

int sha256_fd(int fd, void *buf, size_t bufsize, unsigned char out[32],
	      unsigned long long *size)
{
	struct sha256 s;
	sha256_init(&s);
	*size = 0;
	for (;;) {
		ssize_t n = read(fd, buf, bufsize);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		sha256_update(&s, buf, (size_t)n);
		*size += (unsigned long long)n;
	}
	sha256_final(&s, out);
	return 0;
}

void sha256_format(const unsigned char md[32], char out[72])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
}

void sha256_digest(const void *buf, size_t len, char out[72])
{
	struct sha256 s;
	unsigned char md[32];
	sha256_init(&s);
	sha256_update(&s, buf, len);
	sha256_final(&s, md);
	sha256_format(md, out);
}
