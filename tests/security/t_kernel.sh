# Adversarial suite, kernel attack surface: each test is an attempt from
# inside the sandbox that must fail, named after the technique or CVE it
# regresses. The attempts are `probe attack` subcommands (tests/probe);
# README.md in this directory maps each test to the defence that stops it.
. "$(dirname "$HERE")/security/lib_attack.sh"

# Nested user namespace (would hand back a full capability set), even after
# trying to raise max_user_namespaces: seccomp gives EPERM first.
test_nested_userns_after_max_user_namespaces() {
	attack userns
	expect "write max_user_namespaces: errno=EACCES" \
		"unshare(CLONE_NEWUSER): errno=EPERM" \
		"clone(CLONE_NEWUSER): errno=EPERM"
}

# Second line of defence: with the seccomp rule gone (permissive policy),
# max_user_namespaces=0 still refuses the namespace (ENOSPC).
test_nested_userns_limit_without_seccomp() {
	ATTACK_OPTS="--policy permissive" attack userns
	expect "write max_user_namespaces: errno=EACCES" \
		"unshare(CLONE_NEWUSER): errno=ENOSPC" \
		"clone(CLONE_NEWUSER): errno=ENOSPC"
}

# `unshare -mrfp` then a fresh /proc to reach /proc/sysrq-trigger: the
# namespaces are refused, so no unmasked proc can be mounted.
test_unshare_mrfp_sysrq_trigger() {
	attack unshare_sysrq
	expect "unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID): errno=EPERM"
	refute "^open .*sysrq-trigger for writing: succeeded"
	refute "^mount proc: "
	# The same with busybox unshare(1), as an attacker would type it.
	wsx -- unshare -mrfp sh -c 'echo h > /proc/sysrq-trigger && echo WROTE'
	[ "$RC" != 0 ] || fail "unshare -mrfp exited 0"
	assert_err_has "Operation not permitted"
	! grep -q WROTE "$T/out" || fail "wrote to sysrq-trigger"
}

# core_pattern names a helper the kernel runs as host root on a crash:
# /proc/sys is read-only and cannot be remounted or unmounted.
test_proc_sys_kernel_core_pattern() {
	attack core_pattern
	expect "remount /proc/sys read-write: errno=EPERM" \
		"umount /proc/sys: errno=EPERM"
	refute "^write core_pattern: succeeded"
	wsx -- sh -c 'echo "|/tmp/x" > /proc/sys/kernel/core_pattern'
	[ "$RC" != 0 ] || fail "write to core_pattern exited 0"
}

# cgroup v1 release_agent escape (CVE-2022-0492): no cgroup mount, no
# cgroup namespace to mount one in, no release_agent in sight.
test_cve_2022_0492_cgroup_release_agent() {
	attack cgroup
	expect "mount -t cgroup -o rdma: errno=EPERM" \
		"mount -t cgroup2: errno=EPERM" \
		"open /sys/fs/cgroup/release_agent for writing: errno=ENOENT" \
		"unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWCGROUP): errno=EPERM"
	refute "release_agent for writing: succeeded"
}

# "shocker" (CVE-2014-3519 class): open_by_handle_at with a guessed handle
# would open files by inode outside the mount namespace.
test_shocker_open_by_handle_at() {
	attack shocker
	expect "name_to_handle_at(/): errno=EPERM" \
		"open_by_handle_at(inode 2): errno=EPERM"
}

# CVE-2017-5226 (TIOCSTI) and CVE-2019-10063 (the same with bits above 32
# set, which the kernel drops) on a pty that is the task's own controlling
# terminal, where only seccomp can refuse; TIOCLINUX likewise.
test_cve_2017_5226_cve_2019_10063_tiocsti_tioclinux() {
	attack tiocsti
	expect "ioctl(TIOCSTI) on own tty: errno=EPERM" \
		"ioctl(TIOCSTI|1<<32) on own tty: errno=EPERM" \
		"ioctl(TIOCLINUX) on own tty: errno=EPERM" \
		"ioctl(TIOCLINUX|1<<32) on own tty: errno=EPERM" \
		"tty input queue: empty"
}

# CVE-2017-5226 as in bubblewrap: wsbox runs on the caller's terminal and
# the task pushes a command into it. The task is in its own session and the
# ioctl is filtered; nothing must reach the terminal's input queue.
test_cve_2017_5226_tiocsti_into_callers_terminal() {
	need_python3
	python3 - "$WSBOX" "$STORE" "$ROOTFS" >"$T/out" 2>"$T/err" <<'EOF'
import os, pty, subprocess, sys, tty
wsbox, store, rootfs = sys.argv[1:4]
master, slave = pty.openpty()
tty.setraw(slave)
p = subprocess.run([wsbox, "exec", "--store", store, "--rootfs", rootfs,
                    "--", "/probe", "attack", "tiocsti_stdin"],
                   stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
sys.stdout.write(p.stdout.decode())
sys.stderr.write(p.stderr.decode())
os.set_blocking(slave, False)
try:
    data = os.read(slave, 100)
except BlockingIOError:
    data = b""
print("exit:", p.returncode)
print("caller's terminal got:", repr(data))
EOF
	expect "exit: 0" \
		"ioctl(TIOCSTI) on stdin: errno=EPERM" \
		"ioctl(TIOCSTI|1<<32) on stdin: errno=EPERM" \
		"ioctl(TIOCLINUX) on stdin: errno=EPERM" \
		"caller's terminal got: b''"
}

# io_uring performs I/O that seccomp never sees, and has a long CVE list.
test_io_uring_setup_enter_register() {
	attack io_uring
	expect "io_uring_setup: errno=EPERM" \
		"io_uring_enter: errno=EPERM" \
		"io_uring_register: errno=EPERM"
}

# Socket families outside unix/inet/netlink (AF_VSOCK: CVE-2021-26708,
# AF_ALG: CVE-2013-7421 class, AF_PACKET: CVE-2017-7308, CVE-2020-14386),
# also with high bits set in the family argument.
test_af_vsock_af_alg_af_packet_sockets() {
	attack sockets
	expect "socket(AF_VSOCK): errno=EPERM" \
		"socket(AF_ALG): errno=EPERM" \
		"socket(AF_PACKET, SOCK_RAW): errno=EPERM" \
		"socket(AF_PACKET, SOCK_DGRAM): errno=EPERM" \
		"socket(AF_ALG|1<<32): errno=EPERM" \
		"socket(AF_VSOCK|1<<32): errno=EPERM" \
		"socket(AF_PACKET|1<<32): errno=EPERM"
}

# Foreign syscall ABIs (x32 numbers, int 0x80) use other syscall tables a
# native-only filter would not cover: the process is killed (SIGSYS).
test_x32_and_int80_syscall_abis() {
	[ "$(uname -m)" = x86_64 ] || { echo "not x86_64"; exit 77; }
	attack abi
	expect "x32 getpid: killed=SIGSYS" \
		"x32 unshare(CLONE_NEWUSER): killed=SIGSYS"
	# SIGSEGV: a kernel without ia32 emulation, before seccomp runs.
	for c in "int 0x80 getpid" "int 0x80 unshare(CLONE_NEWUSER)"; do
		grep -qxF -- "$c: killed=SIGSYS" "$T/out" ||
			grep -qxF -- "$c: killed=SIGSEGV" "$T/out" ||
			fail "$c not killed: $(cat "$T/out")"
	done
}

# personality(ADDR_NO_RANDOMIZE) turns off ASLR for what the task execs
# next (exploit aid, CVE-2009-1895 class), also with high bits.
test_personality_addr_no_randomize() {
	attack personality
	expect "personality(ADDR_NO_RANDOMIZE): errno=EPERM" \
		"personality(ADDR_NO_RANDOMIZE|1<<32): errno=EPERM" \
		"personality(READ_IMPLIES_EXEC): errno=EPERM"
}

# host_inotify: one inotify instance taken by this shell's user on the host
# (python3, ctypes); prints "host inotify_init1: succeeded|errno=ENAME".
host_inotify() {
	python3 -c '
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_CLOEXEC)
e = ctypes.get_errno()
print("host inotify_init1: " + ("succeeded" if fd >= 0 else "errno=" + errno.errorcode[e]))'
}

# host_mq_sigqueue: one 80 KiB POSIX message queue (removed again) and one
# queued, blocked real-time signal, taken by this shell's user on the host
# (python3, ctypes); one "host WHAT: succeeded|errno=ENAME" line each.
host_mq_sigqueue() {
	python3 -c '
import ctypes, ctypes.util, errno, os, signal
libc = ctypes.CDLL(None, use_errno=True)
class Attr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
                ("pad", ctypes.c_long * 4)]
name = b"/wsbox-host-%d" % os.getpid()
a = Attr(0, 10, 8192, 0)
fd = libc.syscall(240, name[1:], os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(a))
e = ctypes.get_errno()
if fd >= 0:
    os.close(fd); libc.syscall(241, name[1:])
print("host mq_open: " + ("succeeded" if fd >= 0 else "errno=" + errno.errorcode[e]))
sig = signal.SIGRTMIN + 1
signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
class Info(ctypes.Structure):
    _fields_ = [("b", ctypes.c_int * 32)]
info = Info()
info.b[0] = sig; info.b[2] = -1; info.b[3] = os.getpid(); info.b[4] = os.getuid()
r = libc.syscall(129, os.getpid(), sig, ctypes.byref(info))
e = ctypes.get_errno()
print("host sigqueue: " + ("succeeded" if r == 0 else "errno=" + errno.errorcode[e]))'
}

# POSIX message queue bytes (RLIMIT_MSGQUEUE) and queued signals
# (RLIMIT_SIGPENDING) are counted per user of each user namespace, charged
# up to the host user owning the sandbox and checked there against that
# user's own rlimit: a task holding all it inherited (root: 800 KiB of
# queues) left host root's mq_open EMFILE. A sandbox gets 1/8 of wsbox's
# own, so the host keeps the rest while the task holds its share.
test_mqueue_sigpending_rlimits_charged_to_the_host_user() {
	need_python3
	hold_start 'queued signals:' /probe attack rlimit_ucounts_hog hold
	host_mq_sigqueue >"$T/host"
	hold_end
	assert_eq "$?" 0 "holding task's exit"
	cp "$T/hog" "$T/out"
	expect "mq_open until refused: errno=EMFILE"
	assert_eq "$(cat "$T/host")" "host mq_open: succeeded
host sigqueue: succeeded" "host, while a task holds its queues and signals"
}

# inotify instances are counted per user and charged up to the host user
# who owns the sandbox (root, or the rootless caller), whose default quota
# is 128: a task that takes all it can, and holds them, must leave the
# host and a second task their own (issue 19 item 4).
# The host's inotify watch and fanotify mark quotas scale with RAM (about
# 8k watches per GiB): a fixed 65536 per sandbox was all of host root's
# quota on a host with 8 GiB or less, so one task could take it. Every
# quota a sandbox gets is at most 1/8 of the host's own.
test_inotify_watches_fanotify_marks_quota_is_a_share_of_the_hosts() {
	wsx -- sh -c 'cd /proc/sys/user && for f in max_inotify_instances max_inotify_watches max_fanotify_groups max_fanotify_marks; do [ -e $f ] && echo "$f $(cat $f)"; done'
	assert_rc 0
	for q in inotify/max_user_instances:max_inotify_instances \
		inotify/max_user_watches:max_inotify_watches \
		fanotify/max_user_groups:max_fanotify_groups \
		fanotify/max_user_marks:max_fanotify_marks; do
		host_f=/proc/sys/fs/${q%%:*}
		[ -e "$host_f" ] || continue
		host=$(cat "$host_f")
		got=$(awk -v n="${q##*:}" '$1 == n {print $2}' "$T/out")
		[ -n "$got" ] || fail "${q##*:} missing in the sandbox: $(cat "$T/out")"
		[ "$got" -ge 1 ] && [ "$got" -le $((host / 8 > 0 ? host / 8 : 1)) ] ||
			fail "${q##*:} is $got in the sandbox, host's $host: more than 1/8 of it"
	done
}

test_inotify_instances_exhausted_per_user_quota() {
	need_python3
	hold_start 'inotify instances:' /probe attack inotify_hog hold
	host_inotify >"$T/host"
	attack inotify_hog
	hold_end
	assert_eq "$?" 0 "holding task's exit"
	assert_eq "$(cat "$T/host")" "host inotify_init1: succeeded" "host, while a task holds its quota"
	expect "inotify_init1 until refused: errno=EMFILE" "inotify instances: 16"
	cp "$T/hog" "$T/out"
	expect "inotify_init1 until refused: errno=EMFILE" "inotify instances: 16"
}

# --quota raises or lowers a sandbox's share (a watcher-heavy test suite,
# or a runner that wants none): the task gets exactly that many instances,
# and never more than the host's own limit (refused, exit 125).
test_quota_option_sets_the_inotify_instances() {
	wsx --quota inotify-instances=3 -- /probe attack inotify_hog
	assert_rc 0
	expect "inotify_init1 until refused: errno=EMFILE" "inotify instances: 3"
	host=$(cat /proc/sys/fs/inotify/max_user_instances)
	wsx --quota inotify-instances=$((host + 1)) -- true
	assert_rc 125
	assert_err_has "--quota \`inotify-instances=$((host + 1))\`: want 0..$host (the host's own limit)"
}

# A fork bomb without --pids: pids and threads are one pool for the whole
# host (kernel.pid_max, 32768 here, and kernel.threads-max), and the
# inherited RLIMIT_NPROC (about 96k) is above it, so one task could take
# every pid and leave the host and every tenant unable to fork. Without
# --pids a sandbox gets 1/8 of the smaller pool as its RLIMIT_NPROC
# (counted in its own user namespace). The bomb is bounded at that share
# plus 256, so without the defence it takes only that much of the host.
test_fork_bomb_without_pids_takes_only_a_share_of_host_pids() {
	pool=$(cat /proc/sys/kernel/pid_max)
	threads=$(cat /proc/sys/kernel/threads-max)
	[ "$threads" -lt "$pool" ] && pool=$threads
	share=$((pool / 8))
	[ "$share" -le 8192 ] || { echo "host's share $share: a bomb that large is too big for this suite"; exit 77; }
	hold_start 'processes:' /probe attack pid_hog $((share + 256)) hold
	host=$(sh -c 'echo forked' 2>&1)
	wsx --no-cache -- sh -c 'echo second task'
	hold_end
	assert_eq "$?" 0 "holding task's exit: $(head -c 300 "$T/hog-err")"
	assert_eq "$host" forked "host fork while a task holds its share"
	assert_rc 0
	assert_out "second task"
	cp "$T/hog" "$T/out"
	expect "fork until refused: errno=EAGAIN"
	n=$(sed -n 's/^processes: //p' "$T/out")
	[ "$n" -lt "$share" ] && [ "$n" -gt $((share / 2)) ] ||
		fail "the task forked $n processes; the host's share is $share of $pool"
}
