# Adversarial suite, the seccomp policy itself: syscalls newer than the
# review of the default profile, the ones Docker denies a container without
# capabilities, and IP protocols whose modules the kernel would load. The
# attempts are `probe attack` subcommands (tests/probe); README.md in this
# directory maps each test to the defence that stops it.
. "$(dirname "$HERE")/security/lib_attack.sh"

# Default-allow must not extend to syscalls nobody reviewed: open_tree_attr
# (467, unknown to libseccomp 2.5.4) is denied by number like the rest of
# the mount family, file_getattr/file_setattr and everything above the
# reviewed maximum (469) get ENOSYS. The raw calls carry arguments the
# kernel's own handlers refuse with ENOENT/EINVAL, so an errno here is the
# filter's.
test_syscalls_newer_than_the_review_get_enosys() {
	attack new_syscalls
	expect "open_tree_attr (467): errno=EPERM" \
		"file_getattr (468): errno=ENOSYS" \
		"file_setattr (469): errno=ENOSYS" \
		"syscall 470: errno=ENOSYS" \
		"syscall 1000: errno=ENOSYS"
}

# What Docker's default profile denies without capabilities and wsbox's
# default used to allow: LSM attributes, another process's fds and memory
# advice, page migration, host and domain name.
test_docker_denied_syscalls_lsm_pidfd_getfd_process_madvise() {
	attack new_syscalls
	expect "lsm_list_modules (461): errno=EPERM" \
		"lsm_get_self_attr (459): errno=EPERM" \
		"pidfd_getfd: errno=EPERM" \
		"process_madvise: errno=EPERM" \
		"migrate_pages: errno=EPERM" \
		"sethostname: errno=EPERM" \
		"setdomainname: errno=EPERM"
}

# SCTP, DCCP, L2TP, UDP-Lite sockets: on a kernel with modules, the first
# socket() loads the protocol's module (kernel attack surface). Only the
# type's default protocol, TCP, UDP and ping sockets pass; the others fail
# as on a kernel without them. UDP-Lite is built into this CI kernel, so
# its line shows the filter at work even where SCTP is absent.
test_sctp_dccp_l2tp_udplite_socket_protocols() {
	attack socket_protocols
	expect "socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP): errno=EPROTONOSUPPORT" \
		"socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP): errno=EPROTONOSUPPORT" \
		"socket(AF_INET6, SOCK_STREAM, IPPROTO_SCTP): errno=EPROTONOSUPPORT" \
		"socket(AF_INET, SOCK_DCCP, IPPROTO_DCCP): errno=EPROTONOSUPPORT" \
		"socket(AF_INET, SOCK_DGRAM, IPPROTO_L2TP): errno=EPROTONOSUPPORT" \
		"socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE): errno=EPROTONOSUPPORT" \
		"socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE): errno=EPROTONOSUPPORT" \
		"socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE|1<<32): errno=EPROTONOSUPPORT"
	expect "socket(AF_INET, SOCK_STREAM, 0): succeeded" \
		"socket(AF_INET, SOCK_STREAM, IPPROTO_TCP): succeeded" \
		"socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP): succeeded" \
		"socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP): succeeded" \
		"socket(AF_INET6, SOCK_DGRAM, 0): succeeded"
}

# socketpair(2) creates its two sockets of the family and protocol asked
# for before failing on any family but AF_UNIX: the socket() family and
# protocol rules must hold for it too. The kernel's own EOPNOTSUPP (or
# EPERM for AF_PACKET) means the create code ran; the filter answers
# EAFNOSUPPORT before it. Under default and strict.
test_socketpair_families_and_protocols() {
	for pol in default strict; do
		ATTACK_OPTS="--policy $pol" attack socketpair_families
		for c in "AF_VSOCK, SOCK_STREAM, 0" "AF_PACKET, SOCK_DGRAM, 0" \
			"AF_TIPC, SOCK_RDM, 0" \
			"AF_INET, SOCK_STREAM, IPPROTO_MPTCP" \
			"AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE" \
			"AF_INET6, SOCK_STREAM, IPPROTO_SCTP" \
			"AF_NETLINK, SOCK_RAW, NETLINK_AUDIT" \
			"AF_UNIX|1<<32, SOCK_STREAM, 0"; do
			expect "socketpair($c): errno=EAFNOSUPPORT"
		done
		expect "socketpair(AF_UNIX, SOCK_STREAM, 0): succeeded" \
			"socketpair(AF_UNIX, SOCK_DGRAM, 0): succeeded"
	done
}

# A denial of a syscall libseccomp 2.5.4 does not know is reported under
# its name (policy/syscalls.c), not as "?".
test_denied_syscalls_newer_than_libseccomp_are_named() {
	ATTACK_OPTS="--events $T/events" attack new_syscalls
	grep -q '"event":"policy_denied".*"syscall":"open_tree_attr","nr":467' "$T/events" ||
		fail "no policy_denied event for open_tree_attr: $(grep policy_denied "$T/events" | head -n 3)"
}

# A policy file is a tenant's input: these two rules (an ordering comparison
# on arg0 beside different comparisons on arg1, the fuzzer's `notin` finding
# written out by hand, which the parser's refusal of that `notin` cannot
# see) keep libseccomp 2.5.4 busy for minutes. The compiler runs in a child
# bounded in CPU and wall time, so exec and `policy check` refuse the policy
# with one line and exit 125, and nothing is cached or recorded.
# WSBOX_POLICY_COMPILE_MS lowers the bound (5 s) to keep the test quick;
# `timeout 120` turns an unbounded compile into a failure, not a hang.
slow_policy() {
	printf '%s\n' 'default allow' \
		'deny 13 openat arg0 < 5 arg1 <= 0' \
		'deny 13 openat arg0 < 5 arg1 == 3' >"$T/slow.policy"
}
ws_bounded() { # ARGS...: like ws, with a 200 ms compile bound
	RC=0
	WSBOX_POLICY_COMPILE_MS=200 timeout 120 "$WSBOX" "$@" \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
}
test_policy_that_makes_libseccomp_compile_for_minutes() {
	slow_policy
	ws_bounded exec --store "$STORE" --rootfs "$ROOTFS" \
		--policy "$T/slow.policy" -- /bin/true
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: policy \`$T/slow.policy\`: compile took longer than 200 ms (libseccomp; simplify its argument conditions)" stderr
	assert_store_clean
	assert_eq "$(find "$STORE" -name '*.bpf' | wc -l)" 0 "cached programs"
	ws_bounded policy check "$T/slow.policy"
	assert_rc 125
	assert_err_has "compile took longer than 200 ms"
}
