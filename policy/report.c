/* The reporting variant of a policy (denied-syscall reporting): the same rule
 * list compiled again with its errno denials turned into
 * SECCOMP_RET_USER_NOTIF, plus the nr -> errno table the supervisor needs to
 * answer each notification exactly as the plain filter would have. Sits
 * between the parser's rule list and compile.c; load.c caches the program
 * like the plain one, under its own key.
 *
 * What is reported: every ERRNO(e) outcome with e other than 0 (the
 * squash_chown "succeed without effect" rule is no denial) and ENOSYS (by
 * design a "this kernel has no such syscall" answer that libc silently falls
 * back from: clone3 on every posix_spawn, `newer` syscalls). KILL, LOG, TRAP
 * and the foreign-ABI rule are unchanged. */
#include "policy/policy.h"
#include "policy/policy_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* The task's only syscalls between installing the filter and the supervisor
 * holding the listener (policy_install_reporting and its error path). A
 * notification for one of them would wait for a listener nobody reads, so
 * they keep the plain errno and are never reported. sendmsg itself must be
 * allowed outright, or the policy has no reporting variant. */
static const char *const unreported[] = {"sendmsg", "write", "exit",
					 "exit_group"};

#define ERRNO_BASE SCMP_ACT_ERRNO(0)

/* The errno a reportable action returns, else 0. */
static int reportable_errno(uint32_t action)
{
	if ((action & 0xffff0000u) != ERRNO_BASE)
		return 0;
	int e = (int)(action & 0xffffu);
	return e == ENOSYS ? 0 : e;
}

#define N_UNREPORTED (sizeof unreported / sizeof *unreported)

/* Resolved once per policy: name lookups walk libseccomp's whole table. */
static bool is_unreported(const int *nrs, int nr)
{
	for (size_t i = 0; i < N_UNREPORTED; i++)
		if (nrs[i] == nr)
			return true;
	return false;
}

static int by_nr_then_index(const void *a, const void *b, void *arg)
{
	const struct policy_set *ps = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int x = ps->rules[i].nr, y = ps->rules[j].nr;
	if (x != y)
		return x < y ? -1 : 1;
	return i < j ? -1 : i > j;
}

struct plan_out {
	struct policy_variant v;
	uint32_t *actions;
	struct policy_rule extra[N_UNREPORTED];
	int unreported_nr[N_UNREPORTED];
	int def_errno;
	struct policy_errno *table;
	size_t n_table;
	bool any; /* something is reported */
};

static void plan_out_free(struct plan_out *po)
{
	free(po->actions);
	free(po->table);
}

/* Decide, per syscall, which rules notify. Returns false when the variant
 * cannot be built safely or would report nothing. */
static bool plan_variant(const struct policy_set *ps, struct plan_out *po)
{
	memset(po, 0, sizeof *po);
	po->def_errno = reportable_errno(ps->default_action);
	po->v.default_action =
	    po->def_errno ? SCMP_ACT_NOTIFY : ps->default_action;
	po->v.newer_action = ps->newer_action;
	/* `newer` syscalls are not in the table, so they may notify only
	 * when they would fail like the default. */
	if (ps->has_newer && po->def_errno &&
	    reportable_errno(ps->newer_action) == po->def_errno)
		po->v.newer_action = SCMP_ACT_NOTIFY;
	po->any = po->def_errno != 0;
	po->actions = xcalloc(ps->nrules + 1, sizeof *po->actions);
	po->table = xcalloc(ps->nrules + 1, sizeof *po->table);
	for (size_t i = 0; i < ps->nrules; i++)
		po->actions[i] = ps->rules[i].action;

	/* The listener travels by sendmsg: a policy that may refuse it
	 * cannot be reported (the task could not hand the listener over). */
	int send_nr = seccomp_syscall_resolve_name("sendmsg");
	bool send_ok = ps->default_action == SCMP_ACT_ALLOW;
	for (size_t i = 0; i < ps->nrules; i++) {
		const struct policy_rule *r = &ps->rules[i];
		if (r->dead || r->nr != send_nr)
			continue;
		send_ok = r->ncond == 0 && r->action == SCMP_ACT_ALLOW;
		if (!send_ok)
			break;
	}
	if (!send_ok)
		return false;

	/* Unreported syscalls must not reach a notifying default. */
	for (size_t u = 0; u < N_UNREPORTED; u++)
		po->unreported_nr[u] =
		    seccomp_syscall_resolve_name(unreported[u]);
	for (size_t u = 0; u < N_UNREPORTED; u++) {
		int nr = po->unreported_nr[u];
		if (nr == __NR_SCMP_ERROR || !po->def_errno)
			continue;
		bool live = false, uncond = false;
		for (size_t i = 0; i < ps->nrules; i++) {
			const struct policy_rule *r = &ps->rules[i];
			if (r->dead || r->nr != nr)
				continue;
			live = true;
			uncond |= r->ncond == 0;
		}
		if (uncond)
			continue;
		/* Only conditional rules: the rest of that syscall would
		 * notify, and "else the plain errno" is not expressible. */
		if (live)
			return false;
		struct policy_rule *x = &po->extra[po->v.n_extra++];
		*x = (struct policy_rule){.nr = nr,
					  .action = ps->default_action,
					  .file = "(reporting)"};
		snprintf(x->syscall, sizeof x->syscall, "%s", unreported[u]);
	}

	/* Live rules grouped by syscall, in text order within a group
	 * (strict has ~330 rules: no quadratic scan). */
	_cleanup_free_ size_t *idx = xcalloc(ps->nrules + 1, sizeof *idx);
	size_t n = 0;
	for (size_t i = 0; i < ps->nrules; i++)
		if (!ps->rules[i].dead &&
		    !is_unreported(po->unreported_nr, ps->rules[i].nr))
			idx[n++] = i;
	qsort_r(idx, n, sizeof *idx, by_nr_then_index, (void *)ps);
	for (size_t g = 0, end; g < n; g = end) {
		int nr = ps->rules[idx[g]].nr;
		bool uncond = false;
		int chosen = 0;
		for (end = g; end < n && ps->rules[idx[end]].nr == nr; end++) {
			const struct policy_rule *q = &ps->rules[idx[end]];
			uncond |= q->ncond == 0;
			if (!chosen)
				chosen = reportable_errno(q->action);
		}
		if (!chosen)
			continue;
		/* The syscall can reach the default too: a notification
		 * would not say which errno, unless both agree. */
		if (!uncond && po->def_errno && chosen != po->def_errno)
			continue;
		for (size_t k = g; k < end; k++)
			if (reportable_errno(ps->rules[idx[k]].action) ==
			    chosen)
				po->actions[idx[k]] = SCMP_ACT_NOTIFY;
		po->any = true;
		if (chosen != po->def_errno)
			po->table[po->n_table++] =
			    (struct policy_errno){.nr = nr, .err = chosen};
	}
	po->v.actions = po->actions;
	po->v.extra = po->extra;
	return po->any;
}

static void take_table(struct plan_out *po, struct policy *out)
{
	out->notify_default_errno = po->def_errno;
	out->notify_errnos = steal_pointer(&po->table);
	out->n_notify_errnos = po->n_table;
}

bool policy_report_table(const struct policy_set *ps, struct policy *out)
{
	struct plan_out po;
	bool ok = plan_variant(ps, &po);
	if (ok)
		take_table(&po, out);
	plan_out_free(&po);
	return ok;
}

int policy_report_variant(const struct policy_set *ps,
			  const struct policy_budget *b, struct policy *out,
			  struct wsbox_error *err)
{
	struct plan_out po;
	if (!plan_variant(ps, &po)) {
		plan_out_free(&po);
		return 0;
	}
	/* The plain program compiled, so a failure here is the notify action
	 * itself (libseccomp or kernel without user notification): run
	 * unreported rather than not at all. Not so past the bound: that
	 * would cost the next load the same wait again. */
	struct wsbox_error cerr = {0};
	int r = policy_compile_bounded(ps, &po.v, b, &out->notify_filter,
				       &out->notify_len, NULL, &cerr);
	if (r == 0)
		take_table(&po, out);
	plan_out_free(&po);
	if (r == -ETIMEDOUT) {
		*err = cerr;
		return r;
	}
	return 0;
}

int policy_denied_errno(const struct policy *p, int nr)
{
	for (size_t i = 0; i < p->n_notify_errnos; i++)
		if (p->notify_errnos[i].nr == nr)
			return p->notify_errnos[i].err;
	/* A syscall the table does not know can only have hit the default
	 * (or `newer`, which notifies only when it agrees with it). */
	return p->notify_default_errno ? p->notify_default_errno : EPERM;
}
