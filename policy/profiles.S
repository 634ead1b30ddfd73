/* The shipped profiles, embedded so the binary is self-contained: one
 * NUL-terminated blob per profile between _start/_end symbols, read by
 * policy/embedded.c. Paths are relative to the repo root, where make runs. */
#define PROFILE(name, path)                                                        \
	.section .rodata.wsbox_profiles, "a", @progbits;                      \
	.balign 8;                                                             \
	.globl wsbox_profile_##name##_start;                                   \
	.hidden wsbox_profile_##name##_start;                                  \
	.globl wsbox_profile_##name##_end;                                     \
	.hidden wsbox_profile_##name##_end;                                    \
	wsbox_profile_##name##_start:                                          \
	.incbin path;                                                           \
	wsbox_profile_##name##_end:                                            \
	.byte 0

PROFILE(default, "policy/profiles/default.policy")
PROFILE(strict, "policy/profiles/strict.policy")
PROFILE(permissive, "policy/profiles/permissive.policy")

/* No executable stack for the objects linking this. */
.section .note.GNU-stack, "", @progbits
