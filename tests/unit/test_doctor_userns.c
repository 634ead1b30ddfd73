/* Unit tests for the verdict of doctor's user-namespace probe
 * (sandbox/cli/doctor/userns.c): which knob or symptom is named and which
 * fix is printed. The symptom of Ubuntu's AppArmor restriction (unshare
 * works, the uid_map write is denied) cannot be produced on a host without
 * AppArmor, so it is tested here; the sysctl messages also run end to end
 * in tests/integration/t_doctor_userns.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/cli/doctor/doctor.h"
#include "tests/unit/fixture.h"

static const struct userns_facts works = {
    .max_userns = 15000,
    .clone_ok = -1,
    .aa_restrict = -1,
    .probe_ok = true,
    .created = true,
    .why = "",
};

static const struct userns_facts map_denied = {
    .max_userns = 15000,
    .clone_ok = -1,
    .aa_restrict = -1,
    .created = true,
    .errnum = EPERM,
    .why = "write `/proc/self/uid_map`: Operation not permitted",
};

#define PROFILE_FIX                                                            \
	"fix: install wsbox's AppArmor profile (contrib/apparmor/wsbox; "      \
	"`make install` puts it in /etc/apparmor.d/wsbox, for the installed "  \
	"binary) and load it: `sudo apparmor_parser -r "                       \
	"/etc/apparmor.d/wsbox`; or lift the restriction for all programs: "   \
	"`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`"

static void expect(const struct userns_facts *f, enum level lvl,
		   const char *want)
{
	char buf[1024];
	assert_int_equal(userns_verdict(f, buf, sizeof buf), lvl);
	if (!strstr(buf, want))
		fail_msg("verdict `%s` lacks `%s`", buf, want);
}

static void test_userns_verdict_ok_names_the_knobs(void **state)
{
	(void)state;
	expect(&works, LVL_OK,
	       "unshare(CLONE_NEWUSER) with a single-id uid/gid map works "
	       "(user.max_user_namespaces=15000)");
}

static void test_userns_verdict_apparmor_symptom_prints_both_fixes(void **state)
{
	(void)state;
	struct userns_facts f = map_denied;
	f.aa_restrict = 1;
	expect(&f, LVL_FAIL,
	       "AppArmor restricts unprivileged user namespaces "
	       "(kernel.apparmor_restrict_unprivileged_userns=1): "
	       "unshare(CLONE_NEWUSER) works but the namespace has no "
	       "capabilities (write `/proc/self/uid_map`: Operation not "
	       "permitted); " PROFILE_FIX);
	/* Without the knob (an older or patched kernel), the symptom alone. */
	f.aa_restrict = -1;
	f.errnum = EACCES;
	expect(&f, LVL_FAIL,
	       "works but the namespace has no capabilities (write "
	       "`/proc/self/uid_map`: Operation not permitted), as under "
	       "AppArmor's restriction of unprivileged user namespaces "
	       "(user.max_user_namespaces=15000); " PROFILE_FIX);
}

static void test_userns_verdict_other_failures_are_not_apparmor(void **state)
{
	(void)state;
	struct userns_facts f = map_denied;
	f.errnum = EINVAL;
	f.why = "write `/proc/self/uid_map`: Invalid argument";
	char buf[1024];
	assert_int_equal(userns_verdict(&f, buf, sizeof buf), LVL_FAIL);
	assert_null(strstr(buf, "AppArmor"));
	/* unshare itself refused: not the symptom either. */
	f = map_denied;
	f.created = false;
	f.why = "unshare(CLONE_NEWUSER): Operation not permitted";
	assert_int_equal(userns_verdict(&f, buf, sizeof buf), LVL_FAIL);
	assert_null(strstr(buf, "AppArmor"));
}

static void test_userns_verdict_profile_exempts_the_binary(void **state)
{
	(void)state;
	struct userns_facts f = works;
	f.aa_restrict = 1;
	expect(&f, LVL_OK,
	       "AppArmor restricts unprivileged user namespaces, but not this "
	       "binary");
}

static void test_userns_verdict_knobs_decide_alone(void **state)
{
	(void)state;
	struct userns_facts f = works;
	f.max_userns = 0;
	expect(&f, LVL_FAIL,
	       "user.max_user_namespaces=0 disables user namespaces; fix: "
	       "`sudo sysctl -w user.max_user_namespaces=15000`");
	f.is_root = true;
	expect(&f, LVL_FAIL, "fix: `sysctl -w user.max_user_namespaces=15000`");
	f = works;
	f.clone_ok = 0;
	expect(&f, LVL_FAIL,
	       "kernel.unprivileged_userns_clone=0 allows user namespaces to "
	       "root only; fix: `sudo sysctl -w "
	       "kernel.unprivileged_userns_clone=1`");
	/* Root is exempt from that one. */
	f.is_root = true;
	expect(&f, LVL_OK, "kernel.unprivileged_userns_clone=0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_userns_verdict_ok_names_the_knobs),
	    cmocka_unit_test(
		test_userns_verdict_apparmor_symptom_prints_both_fixes),
	    cmocka_unit_test(
		test_userns_verdict_other_failures_are_not_apparmor),
	    cmocka_unit_test(test_userns_verdict_profile_exempts_the_binary),
	    cmocka_unit_test(test_userns_verdict_knobs_decide_alone),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
