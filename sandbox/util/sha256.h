/* sandbox/util/sha256: the one SHA-256 of wsbox (layer and manifest
 * digests, file hashes at capture, cache keys, policy identities), from
 * OpenSSL's libcrypto.
 *
 * It uses libcrypto's low-level SHA256_* functions, not EVP: OpenSSL 3's EVP
 * fetches the algorithm from a provider on first use, which costs ~1.7 ms per
 * process (tests/bench/PROFILE.md) — a tenth of a whole `wsbox exec` and more
 * of a cache hit. The low-level functions run the same code (the same
 * assembly, same throughput) without the fetch; they are deprecated in
 * OpenSSL 3.0 but present, and this file is the only place to change if a
 * later OpenSSL drops them. */
#ifndef WSBOX_UTIL_SHA256_H
#define WSBOX_UTIL_SHA256_H

#include <stddef.h>

/* Holds OpenSSL's SHA256_CTX (checked in sha256.c) without leaking the
 * deprecated header into every includer. */
struct sha256 {
	_Alignas(8) unsigned char state[128];
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char out[32]);

/* Hash everything readable from fd, reading through buf (bufsize bytes);
 * *size gets the byte count. 0 or -errno (EINTR retried). */
int sha256_fd(int fd, void *buf, size_t bufsize, unsigned char out[32],
	      unsigned long long *size);

/* "sha256:<64 hex>" of out (72 bytes with the NUL). */
void sha256_format(const unsigned char md[32], char out[72]);
/* One shot: "sha256:<hex>" of buf. */
void sha256_digest(const void *buf, size_t len, char out[72]);

#endif
