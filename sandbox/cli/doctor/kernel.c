/* doctor/kernel.c: the kernel release and the newer syscalls the sandbox
 * uses (clone3 required; pidfd_open, close_range, openat2 optional). */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "sandbox/util/fs.h"

/* Is the syscall there? Called with arguments the kernel rejects before
 * doing anything, so any error but ENOSYS means present. */
static bool syscall_present(long ret)
{
	return ret >= 0 || errno != ENOSYS;
}

void probe_kernel(struct doctor *d)
{
	struct utsname u;
	char rel[sizeof u.release + 1] = "?";
	if (uname(&u) == 0)
		snprintf(rel, sizeof rel, "%s", u.release);

	struct open_how how = {0};
	const struct {
		const char *name;
		bool present;
		bool required;
	} sc[] = {
	    /* sandbox_run() creates the namespaces with one clone3(). */
	    {"clone3", syscall_present(syscall(SYS_clone3, NULL, 0)), true},
	    {"pidfd_open", syscall_present(syscall(SYS_pidfd_open, 0, 0)),
	     false},
	    {"close_range",
	     syscall_present(syscall(SYS_close_range, 2U, 1U, 0)), false},
	    {"openat2",
	     syscall_present(syscall(SYS_openat2, -1, "", &how, (size_t)0)),
	     false},
	};
	char have[128] = "", missing[128] = "";
	bool fail = false;
	for (size_t i = 0; i < sizeof sc / sizeof *sc; i++) {
		char *b = sc[i].present ? have : missing;
		appendf(b, 128, "%s%s", b[0] ? " " : "", sc[i].name);
		if (!sc[i].present && sc[i].required)
			fail = true;
	}
	if (missing[0])
		doctor_report(d, fail ? LVL_FAIL : LVL_WARN, "kernel",
			      "Linux %s; missing (ENOSYS): %s%s%s", rel,
			      missing, have[0] ? "; present: " : "", have);
	else
		doctor_report(d, LVL_OK, "kernel", "Linux %s; %s available",
			      rel, have);
}
