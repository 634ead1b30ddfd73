/* Compiles a parsed policy into a classic-BPF program with libseccomp for the
 * native arch only (any other syscall ABI kills the process), exported through
 * a memfd. Also emits the small `newer` prefix that libseccomp cannot
 * express: a range test on the syscall number. */
#include "policy/policy_int.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

static void ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* The kernel loads at most BPF_MAXINSNS instructions: say so with the
 * policy's name (its first file) rather than libseccomp's byte count. */
static int too_big(const struct policy_set *ps, size_t insns,
		   struct wsbox_error *err)
{
	return wsbox_fail_logic(
	    err, E2BIG,
	    "policy `%s`: compiles to %zu BPF instructions, "
	    "more than the kernel's %d (use fewer rules, or "
	    "one comparison in place of many values)",
	    ps->nfiles ? ps->files[0] : "?", insns, BPF_MAXINSNS);
}

/* Read the exported program back from the memfd. */
static int read_program(const struct policy_set *ps, int fd,
			struct sock_filter **out, size_t *count,
			struct wsbox_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return wsbox_fail(err, errno, "seccomp: stat exported BPF");
	size_t size = (size_t)st.st_size;
	if (size == 0 || size % sizeof(struct sock_filter))
		return wsbox_fail(err, EIO,
				  "seccomp: exported BPF has %zu bytes", size);
	if (size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return too_big(ps, size / sizeof(struct sock_filter), err);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return wsbox_fail(err, errno, "seccomp: seek exported BPF");
	_cleanup_free_ struct sock_filter *prog = xcalloc(1, size);
	ssize_t n = read_all(fd, prog, size);
	if (n < 0)
		return wsbox_fail(err, (int)-n, "seccomp: read exported BPF");
	if ((size_t)n != size)
		return wsbox_fail(err, EIO, "seccomp: short read of BPF");
	*count = size / sizeof(struct sock_filter);
	*out = steal_pointer(&prog);
	return 0;
}

/* `newer ACTION`: libseccomp matches syscall numbers only by equality, so
 * "every number above N" (syscalls added after the policy was written) is a
 * prefix in front of libseccomp's program. It only ever returns ACTION for a
 * native-arch, non-x32 number above `max`, and otherwise falls through to
 * the unchanged libseccomp program, which starts by reloading what it needs;
 * classic BPF only jumps forward, so prepending cannot disturb its jumps. */
static size_t newer_prefix(struct sock_filter *pre, uint32_t arch, int max,
			   uint32_t action)
{
	size_t n = 0;
	size_t skip_arch, skip_x32 = SIZE_MAX;
	pre[n++] = (struct sock_filter)BPF_STMT(
	    BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	skip_arch = n;
	pre[n++] =
	    (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 0);
	pre[n++] = (struct sock_filter)BPF_STMT(
	    BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	if (arch == AUDIT_ARCH_X86_64) {
		/* x32 shares AUDIT_ARCH_X86_64; libseccomp's program kills
		 * it, so leave those numbers to it. */
		skip_x32 = n;
		pre[n++] = (struct sock_filter)BPF_JUMP(
		    BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 0);
	}
	pre[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K,
						(uint32_t)max, 0, 1);
	pre[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
	/* Fix the jumps to the first libseccomp instruction (index n). */
	pre[skip_arch].jf = (uint8_t)(n - skip_arch - 1);
	if (skip_x32 != SIZE_MAX)
		pre[skip_x32].jt = (uint8_t)(n - skip_x32 - 1);
	return n;
}

/* Add one rule, with the override check of the text format: libseccomp
 * refuses rules that repeat the default. */
static int add_rule(scmp_filter_ctx ctx, const struct policy_rule *rule,
		    uint32_t action, uint32_t default_action, unsigned *count,
		    struct wsbox_error *err)
{
	if (action == default_action) {
		/* Unconditional ones are no-ops (they only cancelled earlier
		 * rules); a conditional one would be an exception libseccomp
		 * cannot express. */
		if (rule->ncond == 0)
			return 0;
		return wsbox_fail(err, 0,
				  "policy `%s` line %u: a conditional rule for "
				  "`%s` with the default action has no effect",
				  rule->file, rule->line, rule->syscall);
	}
	int r = seccomp_rule_add_array(ctx, action, rule->nr, rule->ncond,
				       rule->cond);
	if (r < 0)
		return wsbox_fail(err, -r, "policy `%s` line %u: rule for `%s`",
				  rule->file, rule->line, rule->syscall);
	(*count)++;
	return 0;
}

int policy_compile(const struct policy_set *ps, struct sock_filter **out,
		   unsigned short *len, unsigned *nrules,
		   struct wsbox_error *err)
{
	struct policy_variant v = {.default_action = ps->default_action,
				   .newer_action = ps->newer_action};
	return policy_compile_variant(ps, &v, out, len, nrules, err);
}

int policy_compile_variant(const struct policy_set *ps,
			   const struct policy_variant *v,
			   struct sock_filter **out, unsigned short *len,
			   unsigned *nrules, struct wsbox_error *err)
{
	_cleanup_(ctx_releasep) scmp_filter_ctx ctx =
	    seccomp_init(v->default_action);
	if (!ctx)
		return wsbox_fail(err, EINVAL, "seccomp_init");
	/* Kill, not just fail, a syscall entering through a foreign ABI
	 * (i386 int 0x80, x32): only the native arch is in the filter, and
	 * the other ABIs' numbers mean different syscalls. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				 SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return wsbox_fail(err, -r, "seccomp: set bad-arch action");
	/* Binary search over syscall numbers rather than a linear chain:
	 * strict lists ~300 syscalls. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		return wsbox_fail(err, -r, "seccomp: set optimize level");

	unsigned count = 0;
	int max = -1;
	for (size_t i = 0; i < ps->nrules; i++) {
		const struct policy_rule *rule = &ps->rules[i];
		/* A syscall the text names is known to it even when a later
		 * line overrides the rule. */
		if (rule->nr > max)
			max = rule->nr;
		if (rule->dead)
			continue;
		r = add_rule(ctx, rule,
			     v->actions ? v->actions[i] : rule->action,
			     v->default_action, &count, err);
		if (r < 0)
			return r;
	}
	/* Variant-only rules: not named by the text, so they never move the
	 * `newer` boundary. */
	for (size_t i = 0; i < v->n_extra; i++) {
		r = add_rule(ctx, &v->extra[i], v->extra[i].action,
			     v->default_action, &count, err);
		if (r < 0)
			return r;
	}

	_cleanup_close_ int fd = memfd_create("wsbox-policy-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "memfd_create");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return wsbox_fail(err, -r, "seccomp_export_bpf");
	_cleanup_free_ struct sock_filter *prog = NULL;
	size_t n = 0;
	r = read_program(ps, fd, &prog, &n, err);
	if (r < 0)
		return r;

	/* `newer` never starts below what the profiles were reviewed for:
	 * a default-allow profile names few syscalls, and the ones between
	 * its highest and the reviewed maximum are allowed on purpose. */
	if (max < POLICY_REVIEWED_MAX_NR)
		max = POLICY_REVIEWED_MAX_NR;
	if (ps->has_newer && max >= 0) {
		struct sock_filter pre[8];
		size_t np = newer_prefix(pre, seccomp_arch_native(), max,
					 v->newer_action);
		if (n + np > BPF_MAXINSNS)
			return too_big(ps, n + np, err);
		struct sock_filter *all = xcalloc(n + np, sizeof *all);
		memcpy(all, pre, np * sizeof *pre);
		memcpy(all + np, prog, n * sizeof *prog);
		free(prog);
		prog = all;
		n += np;
	}
	*out = steal_pointer(&prog);
	*len = (unsigned short)n;
	if (nrules)
		*nrules = count;
	return 0;
}
