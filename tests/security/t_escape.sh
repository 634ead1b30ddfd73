# Adversarial suite, reaching out of the sandbox: other processes, host
# network endpoints, leaked fds and cwd, the wsbox binary. See README.md.
. "$(dirname "$HERE")/security/lib_attack.sh"

# ptrace/kill/pidfd_open/process_vm_readv of processes outside: a host
# process we start, and wsbox's parent (this shell). The PID namespace
# hides them (ESRCH), the policy denies process_vm_readv; PID 1 (wsbox's
# init, non-dumpable) cannot be traced.
test_ptrace_kill_pidfd_open_outside_pids() {
	sleep 1000 &
	victim=$!
	[ "$victim" -gt 100 ] && [ "$$" -gt 100 ] || {
		kill "$victim"; echo "host pids too small to be unambiguous"; exit 77
	}
	attack pid "$victim" "$$" 1
	kill -0 "$victim" || fail "victim died"
	kill "$victim"
	for p in "$victim" "$$"; do
		expect "kill($p, 0): errno=ESRCH" \
			"pidfd_open($p): errno=ESRCH" \
			"ptrace(PTRACE_SEIZE, $p): errno=ESRCH" \
			"process_vm_readv($p): errno=EPERM" \
			"open /proc/$p/mem: errno=ENOENT"
	done
	expect "ptrace(PTRACE_SEIZE, 1): errno=EPERM" \
		"process_vm_readv(1): errno=EPERM" \
		"open /proc/1/mem: errno=EACCES"
}

# listen_host NAME: a TCP listener on 127.0.0.1 and an abstract unix socket
# @NAME on the host; sets LPID and PORT.
listen_host() {
	python3 -c '
import socket, sys, time
t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(8)
u = socket.socket(socket.AF_UNIX); u.bind("\0" + sys.argv[1]); u.listen(8)
print(t.getsockname()[1], flush=True)
time.sleep(60)' "$1" >"$T/port" &
	LPID=$!
	i=0
	while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	PORT=$(cat "$T/port")
	[ -n "$PORT" ] || fail "host listener did not start"
}

# Host services on loopback and abstract unix sockets (D-Bus, X11, docker
# proxies, ...) are scoped to the network namespace: --net none reaches
# neither. --net host does (a control: the same attack then succeeds).
test_net_none_host_loopback_and_abstract_unix() {
	need_python3
	name="wsbox-sec-$$-$(date +%s)"
	listen_host "$name"
	trap 'kill $LPID 2>/dev/null' EXIT
	attack connect tcp 127.0.0.1 "$PORT"
	cp "$T/out" "$T/none-tcp"
	attack connect abstract "$name"
	cat "$T/out" >>"$T/none-tcp"
	ATTACK_OPTS="--net host" attack connect tcp 127.0.0.1 "$PORT"
	cp "$T/out" "$T/host-out"
	ATTACK_OPTS="--net host" attack connect abstract "$name"
	cat "$T/out" >>"$T/host-out"
	kill $LPID
	cp "$T/none-tcp" "$T/out"
	expect "connect tcp 127.0.0.1:$PORT: errno=ECONNREFUSED" \
		"connect abstract @$name: errno=ECONNREFUSED"
	# Control: the listeners were there and the TCP one reachable without
	# the netns (the abstract socket: test_landlock_scopes_* below).
	cp "$T/host-out" "$T/out"
	expect "connect tcp 127.0.0.1:$PORT: succeeded"
	grep -q "^connect abstract @$name: " "$T/out" || fail "no abstract connect line"
}

# need_landlock_scoping: skip without Landlock ABI 6 (Linux 6.12), which
# wsbox then silently does without (doctor WARNs).
need_landlock_scoping() {
	ws doctor
	grep -q "^ok   landlock: " "$T/out" || { echo "no Landlock scoping: $(grep landlock "$T/out")"; exit 77; }
}

# With --net host the network namespace no longer scopes abstract unix
# sockets: a task of one run could meet a host daemon (D-Bus, X11) or a
# task of another run and receive or pass fds into workspaces (issue 19
# item 6). Landlock scopes them to the task's own domain.
test_landlock_scopes_abstract_unix_with_net_host() {
	need_python3
	need_landlock_scoping
	name="wsbox-sec-ll-$$-$(date +%s)"
	listen_host "$name"
	trap 'kill $LPID 2>/dev/null' EXIT
	ATTACK_OPTS="--net host" attack connect tcp 127.0.0.1 "$PORT"
	expect "connect tcp 127.0.0.1:$PORT: succeeded"
	ATTACK_OPTS="--net host" attack connect abstract "$name"
	expect "connect abstract @$name: errno=EPERM"
}

# A pidfd of a host process (same uid when rootless) handed to the task
# over a unix socket names a process the PID namespace hides: the kernel
# refuses to signal a target outside the caller's PID namespace tree
# (EINVAL, before any LSM is asked; Landlock's signal scoping would be the
# second wall).
test_signal_host_process_through_a_received_pidfd() {
	need_python3
	mkdir "$T/tree"
	cp -a "$ROOTFS/." "$T/tree/"
	mkdir -m 0777 "$T/tree/sock"
	victim_secs=$(uniq_secs 1000)
	sleep "$victim_secs" &
	victim=$!
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
socket.send_fds(c, [b"p"], [os.pidfd_open(int(sys.argv[2]))])
c.close()' "$T/tree/sock/s" "$victim" >"$T/py" 2>"$T/py-err" &
	py=$!
	i=0
	while [ ! -s "$T/py" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	ws exec --store "$STORE" --rootfs "$T/tree" -- /probe attack signal_pidfd /sock/s
	alive=no
	kill -0 "$victim" 2>/dev/null && alive=yes
	kill "$victim" "$py" 2>/dev/null
	wait "$py"
	assert_rc 0
	assert_eq "$alive" yes "host process after the task"
	expect "receive pidfd: succeeded" "pidfd_send_signal(host pid, SIGTERM): errno=EINVAL"
}

# Init (PID 1: wsbox's forked process, the task's uid when rootless) is
# outside the task's Landlock domain: no signal from the task reaches it.
# Without scoping kill(1, 0) succeeds (init would still drop most signals
# from its own namespace, SIGNAL_UNKILLABLE).
test_landlock_scopes_signals_to_init() {
	need_landlock_scoping
	attack pid 1
	expect "kill(1, 0): errno=EPERM"
}

# Leaked fds (CVE-2024-21626): the caller has extra fds open, one of them a
# host directory; only 0-2 reach the task, cwd is inside the root, and
# init's fds/cwd/root are out of reach.
test_cve_2024_21626_fd_leaks() {
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- /probe attack fds \
		>"$T/out" 2>"$T/err" </dev/null 3</etc/passwd 4<"$T" 9<"$T" || RC=$?
	assert_rc 0
	expect "extra fds: 0" "cwd: /workspace" "cwd under /: yes" \
		"list /proc/1/fd: errno=EACCES" \
		"readlink /proc/1/cwd: errno=EACCES" \
		"readlink /proc/1/root: errno=EACCES"
}

# CVE-2024-21626 proper: the working directory named through
# /proc/self/fd/N. Whatever fd N was when wsbox changed directory (its own
# store or staging dir, or a host dir the caller leaked), the task must not
# start with a cwd outside its root.
test_cve_2024_21626_cwd_via_proc_self_fd() {
	echo host-secret >"$T/secret"
	for n in 3 4 5 6 7 8 9; do
		RC=0
		"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" \
			--cwd "/proc/self/fd/$n" -- /probe attack fds \
			>"$T/out" 2>"$T/err" </dev/null 9<"$T" || RC=$?
		[ "$RC" = 0 ] || continue # refused: fine
		echo "with --cwd /proc/self/fd/$n"
		expect "cwd under /: yes"
	done
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --cwd /proc/self/fd/9 \
		-- sh -c 'cat secret; echo planted > planted' \
		>"$T/out" 2>"$T/err" </dev/null 9<"$T" || RC=$?
	! grep -q host-secret "$T/out" || fail "read a host file via the cwd"
	assert_no_file "$T/planted"
	assert_no_file "$STORE/planted"
}

# CVE-2019-5736: overwrite the runtime binary through /proc/self/exe or
# /proc/1/exe (init is the forked wsbox binary). The binary's hash is the
# same afterwards, and the host-root mode cannot write it either.
test_cve_2019_5736_proc_self_exe() {
	before=$(sha256sum "$WSBOX" | cut -d' ' -f1)
	attack exe
	# As root the rootfs files belong to an unmapped id (EACCES comes
	# first); rootless they are the task's own: busy, or read-only mount.
	if [ "$(id -u)" = 0 ]; then self=EACCES bb=EACCES; else self=ETXTBSY bb=EROFS; fi
	expect "open /proc/self/exe for writing: errno=$self" \
		"open /bin/busybox for writing: errno=$bb" \
		"readlink /proc/1/exe: errno=EACCES" \
		"open /proc/1/exe: errno=EACCES" \
		"open /proc/1/exe for writing: errno=EACCES" \
		"open /proc/1/mem: errno=EACCES" \
		"list /proc/1/map_files: errno=EACCES" \
		"ptrace(PTRACE_SEIZE, 1): errno=EPERM"
	# Default rootfs (host /): the binary may be visible, read-only.
	ws exec --store "$STORE" -- sh -c "
		for f in /proc/self/exe /proc/1/exe '$WSBOX'; do
			(echo pwned >> \"\$f\") 2>/dev/null && echo \"WROTE \$f\"
		done; exit 0"
	assert_rc 0
	! grep -q WROTE "$T/out" || fail "$(cat "$T/out")"
	assert_eq "$(sha256sum "$WSBOX" | cut -d' ' -f1)" "$before" "wsbox sha256"
}

# CVE-2024-21626 class, through stdin: a directory as fd 0 would be a handle
# on the host tree inside the sandbox (/proc/self/fd/0/...). Refused.
test_cve_2024_21626_stdin_directory_refused() {
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- ls /proc/self/fd/0/ \
		<"$T" >"$T/out" 2>"$T/err" || RC=$?
	assert_rc 125
	assert_err_has "stdin is a directory"
}

# Issue 19 item 10: the caller gives a host file as (read-only) stdin; the
# task reopens /proc/self/fd/0 for writing, which would open the caller's
# file itself, by its inode, with the task's rights. The task holds a
# sealed copy instead (sandbox/cli/exec_stdin.c), so neither a truncating
# nor a read-write reopen reaches the host file.
test_stdin_file_reopened_for_writing() {
	echo original >"$T/in"
	# Writable by anyone: only the copy stands between the task and it.
	chmod 666 "$T/in"
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- sh -c '
		(echo evil 1<>/proc/self/fd/0) 2>/dev/null && echo wrote-rdwr
		(echo evil >/proc/self/fd/0) 2>/dev/null && echo wrote-trunc
		cat' <"$T/in" >"$T/out" 2>"$T/err" || RC=$?
	assert_rc 0
	assert_eq "$(cat "$T/in")" original "host file after the task"
	assert_out original
}

# The same item for a stream: a FIFO the caller opened read-write and
# gave as stdin. Holding the caller's description, the task could write
# into the FIFO through fd 0 itself (no reopen needed) and whoever reads
# it next gets the task's bytes. The task reads a pipe wsbox fills instead
# (sandbox/stdin_relay.c): fd 0 is read-only and not the caller's FIFO.
test_stdin_fifo_read_write_is_not_the_tasks() {
	mkfifo "$T/fifo" || fail "mkfifo"
	exec 7<>"$T/fifo"
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- sh -c '
		(echo planted-fd >&0) 2>/dev/null && echo wrote-fd
		(echo planted-reopen 1<>/proc/self/fd/0) 2>/dev/null && echo wrote-reopen
		exit 0' <&7 >"$T/out" 2>"$T/err" || RC=$?
	# What is in the FIFO now: a reader of the caller's gets nothing.
	timeout 1 cat <&7 >"$T/fifo.out"
	exec 7>&-
	assert_rc 0
	# Reopened, fd 0 is the relay's pipe, the task's own (rootless it
	# may write there, to itself): only the caller's FIFO matters.
	! grep -q wrote-fd "$T/out" || fail "the task wrote to fd 0"
	assert_eq "$(cat "$T/fifo.out")" "" "bytes the caller's FIFO got"
}

# A socket on stdin (an engine handing its end of a socketpair): the task
# must not be able to write to the caller's peer through fd 0.
test_stdin_socket_is_not_the_tasks() {
	need_python3
	RC=0
	python3 - "$WSBOX" "$STORE" "$ROOTFS" >"$T/out" 2>"$T/err" <<'PY' || RC=$?
import socket, subprocess, sys
a, b = socket.socketpair()
a.sendall(b"hello\n")
a.shutdown(socket.SHUT_WR)
wsbox, store, rootfs = sys.argv[1:4]
p = subprocess.run([wsbox, "exec", "--store", store, "--rootfs", rootfs, "--",
                    "sh", "-c", "read l; echo got $l; "
                    "(echo planted >&0) 2>/dev/null && echo wrote; exit 0"],
                   stdin=b, capture_output=True, timeout=60)
b.close()
a.settimeout(5)
peer = b""
while True:
    d = a.recv(4096)
    if not d:
        break
    peer += d
print("task:", p.stdout.decode().strip().replace("\n", " "))
print("peer: [%s]" % peer.decode().strip())
sys.exit(p.returncode)
PY
	assert_rc 0
	assert_eq "$(sed -n 1p "$T/out")" "task: got hello" "what the task read and wrote"
	assert_eq "$(sed -n 2p "$T/out")" "peer: []" "what the caller's peer got"
}
