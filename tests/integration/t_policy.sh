# Seccomp policies end to end: the strict allowlist runs real build tools on
# the host root (C compile and link, tar round trip, python3) and refuses
# what it does not list; policy files (line-numbered errors, argN masks,
# includes) behave as written; denied syscalls are reported by name
# (WSBOX_DEBUG_DENIED=1 prints "wsbox: task T: policy denied NAME (pid N)").

# wsh POLICY SCRIPT: sh -c SCRIPT on the host root under POLICY.
wsh() {
	ws exec --store "$STORE" --policy "$1" -- sh -c "$2"
}

need() { # tools on the host, else skip
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || { echo "no $t on the host"; exit 77; }
	done
}

test_strict_compiles_and_links_c() {
	need cc
	wsh strict 'printf "#include <stdio.h>\nint main(void){puts(\"hello\");return 0;}\n" >hello.c &&
		cc -O2 -o hello hello.c && ./hello'
	assert_rc 0
	assert_out hello
}

test_strict_make_with_threads() {
	need cc make
	wsh strict 'printf "p: p.c\n\tcc -o p p.c -lpthread\n" >Makefile &&
		printf "#include <pthread.h>\n#include <stdio.h>\nstatic void *f(void *a){return a;}\nint main(void){pthread_t t;pthread_create(&t,0,f,0);pthread_join(t,0);puts(\"joined\");return 0;}\n" >p.c &&
		make -s && ./p'
	assert_rc 0
	assert_out joined
}

test_strict_tar_round_trip() {
	need tar gzip cmp
	wsh strict 'mkdir -p src/sub && echo one >src/a && head -c 100000 /dev/urandom >src/sub/b &&
		ln -s a src/link && chmod 640 src/a &&
		tar czf t.tgz src && mkdir out && tar xzf t.tgz -C out &&
		cmp src/a out/src/a && cmp src/sub/b out/src/sub/b &&
		[ "$(readlink out/src/link)" = a ] &&
		[ "$(stat -c %a out/src/a)" = 640 ] && echo same'
	assert_rc 0
	assert_out same
}

test_strict_python3() {
	need python3
	wsh strict 'python3 -c "
import json, subprocess, threading, tempfile, shutil
t = threading.Thread(target=lambda: None); t.start(); t.join()
d = tempfile.mkdtemp(); shutil.rmtree(d)
print(json.dumps({\"rc\": subprocess.run([\"true\"]).returncode}))"'
	assert_rc 0
	assert_out '{"rc": 0}'
}

# ptrace(PTRACE_TRACEME) succeeds for any process, and the default profile
# allows ptrace: only strict's allowlist turns it into EPERM.
PTRACE_ME='python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.ptrace(0, 0, 0, 0)
print(\"ok\" if r == 0 else os.strerror(ctypes.get_errno()))"'

test_strict_unlisted_syscall_is_eperm() {
	need python3
	wsh default "$PTRACE_ME"
	assert_rc 0
	assert_out ok
	wsh strict "$PTRACE_ME"
	assert_rc 0
	assert_out "Operation not permitted"
}

test_policy_check_unknown_syscall_is_line_numbered() {
	printf 'default allow\n# a comment\ndeny EPERM mount frobnicate\n' >"$T/bad.policy"
	ws policy check "$T/bad.policy"
	assert_rc 125
	assert_err_has "bad.policy\` line 3: unknown syscall \`frobnicate\`"
	# Refused at exec too, before anything runs.
	ws exec --store "$STORE" --rootfs "$ROOTFS" --policy "$T/bad.policy" -- true
	assert_rc 125
	assert_err_has "line 3: unknown syscall"
}

# A policy too big for the kernel's BPF limit is refused by name, in one
# line that says what to change (it said `seccomp: exported BPF has 64368
# bytes: Argument list too long`), at check and at exec.
test_policy_over_the_kernels_bpf_limit_is_named() {
	awk 'BEGIN { print "default allow"; for (i = 0; i < 8000; i++) print "deny 1 write arg0 == " i }' >"$T/big.policy"
	ws policy check "$T/big.policy"
	assert_rc 125
	assert_err_has "wsbox: policy \`$T/big.policy\`: compiles to "
	assert_err_has " BPF instructions, more than the kernel's 4096 (use fewer rules"
	assert_eq "$(wc -l <"$T/err")" 1 "stderr lines"
	ws exec --store "$STORE" --rootfs "$ROOTFS" --policy "$T/big.policy" -- true
	assert_rc 125
	assert_err_has "more than the kernel's 4096"
}

# A file's own TIOCSTI rule, with an errno of its own so that the answer can
# only come from it: the mask makes it hold whatever the upper 32 bits of
# the register are (CVE-2019-10063); without the mask the high-bit form
# gets through.
test_policy_file_arg_mask_catches_tiocsti_high_bits() {
	printf 'default allow\ndeny EACCES ioctl arg1 &0xffffffff == TIOCSTI\n' >"$T/m.policy"
	wsx --policy "$T/m.policy" -- /probe attack tiocsti
	assert_out_has "ioctl(TIOCSTI) on own tty: errno=EACCES"
	assert_out_has "ioctl(TIOCSTI|1<<32) on own tty: errno=EACCES"
	printf 'default allow\ndeny EACCES ioctl arg1 == TIOCSTI\n' >"$T/u.policy"
	wsx --policy "$T/u.policy" -- /probe attack tiocsti
	assert_out_has "ioctl(TIOCSTI) on own tty: errno=EACCES"
	if grep -qF "ioctl(TIOCSTI|1<<32) on own tty: errno=EACCES" "$T/out"; then
		fail "unmasked rule matched the high-bit command"
	fi
}

test_policy_file_includes() {
	# top includes base (relative to itself), base includes `default`
	# and adds its own rule.
	printf 'include default\ndeny EACCES mkdir mkdirat\n' >"$T/base.policy"
	printf '# top\ninclude base.policy\n' >"$T/top.policy"
	ws policy check "$T/top.policy"
	assert_rc 0
	wsx --policy "$T/top.policy" -- sh -c 'mkdir /tmp/d 2>&1; unshare -m true 2>&1; echo end'
	assert_out_has "Permission denied"
	assert_out_has "Operation not permitted"
	# A missing include is an error naming the line.
	printf 'include default\ninclude nowhere.policy\n' >"$T/miss.policy"
	ws policy check "$T/miss.policy"
	assert_rc 125
	assert_err_has "line 2"
}

test_denied_syscall_is_reported_by_name() {
	RC=0
	WSBOX_DEBUG_DENIED=1 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- \
		sh -c 'unshare -m true; mount -t tmpfs x /tmp; echo done' \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 0
	assert_out done
	grep -qE '^wsbox: task [^ ]*: policy denied unshare \(pid [0-9]+\)$' "$T/err" ||
		fail "no report for unshare: $(cat "$T/err")"
	assert_err_has "policy denied mount (pid"
	# The task still saw the policy's errno.
	assert_err_has "Operation not permitted"
}

test_denied_report_keeps_the_policys_errno() {
	printf 'include default\ndeny EACCES mkdir mkdirat\n' >"$T/p.policy"
	RC=0
	WSBOX_DEBUG_DENIED=1 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" \
		--policy "$T/p.policy" -- sh -c 'mkdir /tmp/x 2>&1; echo done' \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 0
	assert_out_has "Permission denied"
	assert_err_has "policy denied mkdir"
}

test_strict_default_denial_is_reported() {
	need python3
	RC=0
	WSBOX_DEBUG_DENIED=1 "$WSBOX" exec --store "$STORE" --policy strict -- \
		sh -c "$PTRACE_ME" >"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 0
	assert_out "Operation not permitted"
	assert_err_has "policy denied ptrace (pid"
}

# Many denials in a row, from several processes at once: each one is
# answered (the task finishes) and reported.
test_many_denials_all_answered() {
	RC=0
	WSBOX_DEBUG_DENIED=1 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- \
		sh -c 'for p in 1 2 3 4; do (i=0; while [ $i -lt 50 ]; do unshare -m true 2>/dev/null; i=$((i+1)); done) & done; wait; echo done' \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 0
	assert_out done
	assert_eq "$(grep -c 'policy denied unshare' "$T/err")" 200 "reports"
}

# A task that does nothing but get denied is still killed on time: the
# supervisor never leaves it waiting, nor waits for it.
test_denial_loop_still_times_out() {
	RC=0
	WSBOX_DEBUG_DENIED=1 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" \
		--timeout 1 -- sh -c 'while :; do unshare -m true 2>/dev/null; done' \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 124
	assert_err_has "policy denied unshare"
}

# The listener never reaches the task: only 0, 1, 2 are open at exec, with
# and without reporting.
test_reporting_leaks_no_fd() {
	wsx -- /probe fds
	assert_rc 0
	assert_out "ok fds"
}
