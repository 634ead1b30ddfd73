# Adversarial suite, the caller's terminal (issue 19 item 11): a task given
# the caller's terminal changed its window size and echo mode and, with
# TIOCSETD, left it dead after wsbox exited. When stdin is a terminal the
# task gets a pty of its own that wsbox relays (sandbox/pty.c, docs/sandbox.md
# "Terminal"). Each test runs wsbox on a real pty (python3's pty.fork, the
# pty being the controlling terminal of the shell that starts wsbox, as an
# interactive shell's is). README.md.
. "$(dirname "$HERE")/security/lib_attack.sh"

# on_pty OUT ERR CMD...: run CMD with a fresh pty (40x100, cooked, echo) as
# controlling terminal and stdin; wsbox's stdout to the pty when OUT is
# "tty", else to $T/out; stderr likewise with ERR (else $T/err). Around CMD
# the terminal's state (termios, line discipline, window size) is taken;
# $T/state says "unchanged" or what changed, $T/rc CMD's exit status, and
# $T/pty what the pty showed. Input in $PTY_INPUT is typed once CMD runs.
on_pty() {
	python3 - "$T" "$@" <<'PY'
import fcntl, os, pty, struct, subprocess, sys, termios, time
t, out, err, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def get(f):
    try:
        return f()
    except (OSError, termios.error) as x: # a dead terminal: EINVAL
        return "error: " + os.strerror(x.args[0])

def state():
    return (get(lambda: termios.tcgetattr(0)),
            get(lambda: struct.unpack("i", fcntl.ioctl(0, termios.TIOCGETD, b"\0" * 4))[0]),
            get(lambda: struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))))

pid, fd = pty.fork()
if pid == 0:
    try:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        before = state()
        o = None if out == "tty" else open(t + "/out", "wb")
        e = None if err == "tty" else open(t + "/err", "wb")
        rc = subprocess.run(argv, stdout=o, stderr=e).returncode
        after = state()
        names = ("termios", "line discipline", "window size")
        diff = ["%s: %r -> %r" % (n, b, a)
                for n, b, a in zip(names, before, after) if a != b]
        msg = "\n".join(diff) if diff else "unchanged"
    except Exception as x:
        rc, msg = -1, "harness: %r" % x
    with open(t + "/rc", "w") as f:
        f.write("%d\n" % rc)
    with open(t + "/state", "w") as f:
        f.write(msg + "\n")
    os._exit(0)
typed = os.environ.get("PTY_INPUT", "").encode()
if typed:
    time.sleep(0.2) # not an assertion: the input waits in the pty anyway
    os.write(fd, typed)
shown = b""
while True:
    try:
        d = os.read(fd, 65536)
    except OSError:
        break
    if not d:
        break
    shown += d
os.waitpid(pid, 0)
open(t + "/pty", "wb").write(shown)
PY
	[ -f "$T/rc" ] || fail "the pty harness failed"
	RC=$(cat "$T/rc")
}

# The attack of the issue, on fd 0 with stderr on the terminal (so wsbox
# puts the caller's terminal in raw mode and must restore it): the task
# changes only its own pty; the caller's termios, line discipline and
# window size are what they were.
test_tiocsetd_stty_winsize_on_callers_terminal() {
	need_python3
	on_pty pipe tty "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- /probe attack tty_settings
	assert_eq "$(cat "$T/state")" unchanged "the caller's terminal"
	assert_rc 0
	expect "ioctl(TIOCSWINSZ 1x1) on stdin: succeeded" \
		"tcsetattr(-echo -icanon -isig) on stdin: succeeded" \
		"ioctl(TIOCSETD N_NULL) on stdin: succeeded"
}

# The same with the caller's stdout and stderr elsewhere: the caller's
# terminal is not even put in raw mode, and still nothing of it changes.
test_tty_settings_with_only_stdin_on_the_terminal() {
	need_python3
	on_pty pipe pipe "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- /probe attack tty_settings
	assert_eq "$(cat "$T/state")" unchanged "the caller's terminal"
	assert_rc 0
	expect "ioctl(TIOCSETD N_NULL) on stdin: succeeded"
}

# Raw mode is undone on every way out: a --timeout kill and a signal to
# wsbox (forwarded, the sandbox ends, supervise returns).
test_callers_terminal_restored_after_timeout_and_signal() {
	need_python3
	on_pty tty tty "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --timeout 1 -- sleep 30
	assert_rc 124
	assert_eq "$(cat "$T/state")" unchanged "after a timeout"
	rm -f "$T/rc" "$T/state"
	on_pty tty tty sh -c '"$0" exec --store "$1" --rootfs "$2" -- sleep 30 & p=$!; sleep 1; kill -TERM $p; wait $p' \
		"$WSBOX" "$STORE" "$ROOTFS"
	assert_rc 143
	assert_eq "$(cat "$T/state")" unchanged "after SIGTERM to wsbox"
}

# Two wsbox on one terminal (a `make -j` of tasks): the second finds the
# terminal raw (the first's), leaves it alone, and the first's restore is
# the last word. Were the second to save and restore, ending after the
# first it would leave the terminal raw. (Should the first not yet have set
# raw mode when the second starts, both save the cooked state and the
# check still holds.)
test_two_wsbox_on_one_terminal_leave_it_as_it_was() {
	need_python3
	# An asynchronous list's stdin is /dev/null unless redirected (POSIX):
	# the first wsbox gets the terminal through fd 3.
	on_pty tty tty sh -c 'exec 3<&0; "$0" exec --store "$1" --rootfs "$2" -- sleep 2 <&3 & sleep 1
		"$0" exec --store "$1" --rootfs "$2" -- sleep 3; wait' \
		"$WSBOX" "$STORE" "$ROOTFS"
	assert_rc 0
	assert_eq "$(cat "$T/state")" unchanged "the caller's terminal"
}

# What the pty is for: the task sees a terminal (its own, named inside),
# with the caller's window size; its output reaches the caller and the
# logs; what the caller types reaches it.
test_task_gets_its_own_terminal_relayed() {
	need_python3
	PTY_INPUT='hello
' on_pty tty tty "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r --task t -- \
		sh -c 'test -t 0 && test -t 1 && tty; stty size; read x; echo "got $x"'
	assert_rc 0
	grep -q "^/dev/pts/0" "$T/pty" || fail "no tty name on the pty: $(od -c "$T/pty" | head)"
	grep -q "^40 100" "$T/pty" || fail "no window size on the pty: $(od -c "$T/pty" | head)"
	grep -q "^got hello" "$T/pty" || fail "input not relayed: $(od -c "$T/pty" | head)"
	log=$(ls "$STORE"/runs/r/logs/*.out)
	grep -q "^/dev/pts/0" "$log" || fail "the log lacks the task's output: $(od -c "$log" | head)"
	grep -q "^got hello" "$log" || fail "the log lacks the task's output: $(od -c "$log" | head)"
	assert_eq "$(cat "$T/state")" unchanged "the caller's terminal"
}

# A pipe on stdin keeps every stream a pipe even with a terminal around:
# the task sees no terminal (a cacheable task's output never depends on
# one) and gets the bytes the caller piped.
test_pipe_stdin_on_a_terminal_gets_no_pty() {
	need_python3
	on_pty tty tty sh -c 'echo piped | "$0" exec --store "$1" --rootfs "$2" -- sh -c "test -t 0 || echo stdin-not-tty; test -t 1 || echo stdout-not-tty; cat"' \
		"$WSBOX" "$STORE" "$ROOTFS"
	assert_rc 0
	grep -q "stdin-not-tty" "$T/pty" || fail "stdin was a terminal: $(cat "$T/pty")"
	grep -q "stdout-not-tty" "$T/pty" || fail "stdout was a terminal: $(cat "$T/pty")"
	grep -q "^piped" "$T/pty" || fail "piped input lost: $(cat "$T/pty")"
}
