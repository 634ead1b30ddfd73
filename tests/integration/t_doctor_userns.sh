# `wsbox doctor` names the knob that forbids user namespaces and its fix
# (sandbox/cli/doctor/userns.c). The sysctls are read from a fake /proc/sys
# given in WSBOX_TEST_PROCSYS (test-only), so every message shows on any
# host; the real probe still runs. Runs as root and unprivileged: root gets
# no `sudo` in the fixes and is exempt from unprivileged_userns_clone.
# (AppArmor's symptom, a denied uid_map write, needs AppArmor: unit-tested in
# tests/unit/test_doctor_userns.c.)

# fake_sysctl REL VALUE: set a knob of the fake /proc/sys in $T/procsys.
fake_sysctl() {
	mkdir -p "$T/procsys/$(dirname "$1")"
	echo "$2" >"$T/procsys/$1"
}

# doctor with the fake /proc/sys; its user-namespace line in $LINE.
doctor_fake() {
	mkdir -p "$T/procsys"
	RC=0
	WSBOX_TEST_PROCSYS="$T/procsys" "$WSBOX" doctor >"$T/out" 2>"$T/err" </dev/null || RC=$?
	LINE=$(grep '^[a-zA-Z ]\{4\} user namespaces: ' "$T/out")
}

is_root() { [ "$(id -u)" = 0 ]; }
sudo_prefix() { is_root || echo "sudo "; }

test_doctor_userns_reads_the_fake_procsys() {
	doctor_fake
	assert_rc 0
	assert_eq "${LINE%%;*}" "ok   user namespaces: unshare(CLONE_NEWUSER) with a single-id uid/gid map works" line
	fake_sysctl user/max_user_namespaces 77
	doctor_fake
	assert_eq "${LINE%%;*}" "ok   user namespaces: unshare(CLONE_NEWUSER) with a single-id uid/gid map works (user.max_user_namespaces=77)" line
}

test_doctor_userns_max_user_namespaces_zero() {
	fake_sysctl user/max_user_namespaces 0
	doctor_fake
	assert_rc 1
	assert_eq "$LINE" "FAIL user namespaces: user.max_user_namespaces=0 disables user namespaces; fix: \`$(sudo_prefix)sysctl -w user.max_user_namespaces=15000\`" line
}

test_doctor_userns_unprivileged_userns_clone_zero() {
	fake_sysctl user/max_user_namespaces 15000
	fake_sysctl kernel/unprivileged_userns_clone 0
	doctor_fake
	if is_root; then
		assert_rc 0
		assert_eq "${LINE%%;*}" "ok   user namespaces: unshare(CLONE_NEWUSER) with a single-id uid/gid map works (user.max_user_namespaces=15000, kernel.unprivileged_userns_clone=0)" line
	else
		assert_rc 1
		assert_eq "$LINE" "FAIL user namespaces: kernel.unprivileged_userns_clone=0 allows user namespaces to root only; fix: \`sudo sysctl -w kernel.unprivileged_userns_clone=1\`" line
	fi
}

# The knob is set but the namespace works: the binary is exempt (a profile
# grants it `userns,`), so doctor passes and says why.
test_doctor_userns_apparmor_restriction_with_a_working_namespace() {
	fake_sysctl kernel/apparmor_restrict_unprivileged_userns 1
	doctor_fake
	assert_rc 0
	if is_root; then
		assert_eq "$LINE" "ok   user namespaces: unshare(CLONE_NEWUSER) with a single-id uid/gid map works (kernel.apparmor_restrict_unprivileged_userns=1); AppArmor restricts unprivileged users, not root; fix: install wsbox's AppArmor profile (contrib/apparmor/wsbox; \`make install\` puts it in /etc/apparmor.d/wsbox, for the installed binary) and load it: \`apparmor_parser -r /etc/apparmor.d/wsbox\`; or lift the restriction for all programs: \`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\`; as root, tasks run mapped to unprivileged host uid $(root_host_id subuid) gid $(root_host_id subgid) ($(root_range_source))" line
	else
		assert_eq "$LINE" "ok   user namespaces: unshare(CLONE_NEWUSER) with a single-id uid/gid map works (kernel.apparmor_restrict_unprivileged_userns=1); AppArmor restricts unprivileged user namespaces, but not this binary (a profile such as /etc/apparmor.d/wsbox allows it)" line
	fi
}

# As root: the first id of root's range in /etc/subuid (subgid), else the
# default base; and how doctor says where it came from.
root_host_id() {
	b=$(sed -n 's/^\(root\|0\):\([0-9]*\):.*/\2/p' "/etc/$1" 2>/dev/null | head -n 1)
	echo "${b:-1879048192}"
}
root_range_source() {
	if [ "$(root_host_id subuid)" = 1879048192 ] && [ "$(root_host_id subgid)" = 1879048192 ]; then
		echo "default; no range for root in /etc/subuid, /etc/subgid"
	else
		echo "first id of root's /etc/subuid, /etc/subgid range"
	fi
}

# Unreadable or garbage knobs count as absent, not as 0.
test_doctor_userns_garbage_knob_is_ignored() {
	fake_sysctl user/max_user_namespaces "lots"
	doctor_fake
	assert_rc 0
	assert_eq "${LINE%%;*}" "ok   user namespaces: unshare(CLONE_NEWUSER) with a single-id uid/gid map works" line
}
