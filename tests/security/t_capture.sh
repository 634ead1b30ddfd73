# Adversarial suite, the capture of what a hostile task leaves behind
# (CVE-2018-15664 class: a runtime that follows a link the container swaps
# in while the runtime works on its files) and overlay xattrs set through
# the workspace. See README.md.
. "$(dirname "$HERE")/security/lib_attack.sh"

layer_of() {
	sed -n 's/^ "layer": *"\(sha256:[0-9a-f]*\)".*/\1/p' "$STORE/runs/$1/tasks/$2"
}

# The task plants symlinks (to host paths, loops, ..), hardlinks, a FIFO,
# device nodes, setuid/setgid files, and leaves background processes that
# keep swapping directories for symlinks after the main process exits.
# Capture must wait for all of them to be dead and follow nothing: the
# layer holds no device, no FIFO, no setuid bit, links as links, nothing
# of the host, and no process of the task survives.
test_cve_2018_15664_capture_races_planted_links() {
	mark="sec-race-$$-$(date +%s)"
	out="$T/outside"
	mkdir -p "$out" && echo host-secret >"$out/secret" && chmod 644 "$out/secret"
	wsx --run r --task evil -- sh -c "
		# $mark
		mkdir -p swap/sub; echo in > swap/sub/f
		echo x > hard1; ln hard1 hard2
		mkfifo fifo
		echo s > suid; chmod 6755 suid; mkdir sgid; chmod 2775 sgid
		ln -s '$out' out-link; ln -s '$out/secret' secret-link
		ln -s '$STORE/layers' store-link; ln -s ../../../../../etc up-link
		ln -s loop1 loop2; ln -s loop2 loop1
		/probe attack mknod
		(while :; do mv swap swap.d; ln -sfn '$out' swap; rm -f swap; mv swap.d swap; done) >/dev/null 2>&1 &
		(while :; do ln -sfn '$out/secret' flip; rm -f flip; mkdir flip; rmdir flip; done) >/dev/null 2>&1 &
		(while :; do echo s > late; chmod 4755 late; rm -f late; ln -sfn '$out' late; rm -f late; done) >/dev/null 2>&1 &
		(sleep 1; echo too-late > too-late) &
		sleep 0.3; exit 0"
	assert_rc 0
	expect "mknod char 1:3: errno=EPERM" "mknod block 7:0: errno=EPERM"
	# No process of the task outlives wsbox.
	! pgrep -f "$mark" >/dev/null || fail "task processes survived: $(pgrep -af "$mark")"
	l=$(layer_of r evil)
	[ -n "$l" ] || fail "no layer recorded"
	ws layers --store "$STORE" show "$l"
	assert_rc 0
	cp "$T/out" "$T/show"
	# Only dirs (opaque or not), files, symlinks, whiteouts in the layer.
	bad=$(sed 1d "$T/show" | awk '$1 != "dir" && $1 != "file" && $1 != "symlink" && $1 != "whiteout" && $1 != "opaque"')
	[ -z "$bad" ] || fail "unexpected entries: $bad"
	! grep -q " fifo\$" "$T/show" || fail "fifo captured"
	# The layer as a child task sees it.
	wsx --run r --task child --parent evil -- true
	assert_rc 0
	ws restore --store "$STORE" --run r --task child --to "$T/rest"
	assert_rc 0
	assert_eq "$(find "$T/rest" \( -type b -o -type c -o -type p -o -type s \) | wc -l)" 0 "devices/fifos/sockets"
	assert_eq "$(find "$T/rest" -perm /6000 | wc -l)" 0 "setuid/setgid entries"
	for lnk in out-link:"$out" secret-link:"$out/secret" store-link:"$STORE/layers" up-link:../../../../../etc; do
		n=${lnk%%:*}; want=${lnk#*:}
		[ -L "$T/rest/$n" ] || fail "$n is not a symlink"
		assert_eq "$(readlink "$T/rest/$n")" "$want" "$n target"
	done
	[ -f "$T/rest/hard1" ] && [ "$(cat "$T/rest/hard2")" = x ] || fail "hardlinks lost"
	# swap: whichever state it was caught in, a real dir or a symlink.
	if [ -L "$T/rest/swap" ]; then
		assert_eq "$(readlink "$T/rest/swap")" "$out" "swap target"
	fi
	# Nothing of the host was read into the layer, nothing written outside.
	! grep -rq host-secret "$T/rest" "$STORE/layers" || fail "host file content captured"
	assert_eq "$(ls -A "$out")" secret "outside dir"
	assert_eq "$(cat "$out/secret")" host-secret "outside file"
	# A survivor would write too-late into the published layer.
	sleep 1.2
	assert_eq "$(find "$STORE" "$T/rest" -name too-late | wc -l)" 0 "late write"
	ws layers --store "$STORE" verify
	assert_rc 0
}

# Overlay's own xattrs set through the workspace (user.overlay.* with the
# userxattr mount, trusted.overlay.*): they must not end up in the layer
# and must not change what a child task sees (an opaque or redirect
# marker would hide or remap a parent's files).
test_overlay_xattrs_through_workspace() {
	need_python3
	wsx --run r --task a -- sh -c 'mkdir d e; echo k > d/keep; echo k > e/keep'
	assert_rc 0
	wsx --run r --task b --parent a -- sh -c '/probe attack xattr d &&
		/probe attack xattr e/keep && mkdir n && /probe attack xattr n &&
		echo z > d/new'
	assert_rc 0
	# trusted.* needs CAP_SYS_ADMIN in the initial namespace.
	expect "setxattr trusted.overlay.opaque: errno=EPERM" \
		"setxattr trusted.overlay.redirect: errno=EPERM"
	wsx --run r --task c --parent b -- sh -c 'cat d/keep e/keep; ls d; ls n'
	assert_rc 0
	assert_out "k
k
keep
new"
	# No xattr at all in any published layer.
	python3 - "$STORE/layers" >"$T/xattrs" <<'EOF' || fail "xattr listing"
import os, sys
for root, dirs, files in os.walk(sys.argv[1]):
    for n in dirs + files:
        p = os.path.join(root, n)
        names = os.listxattr(p, follow_symlinks=False)
        if names:
            print(p, names)
EOF
	assert_eq "$(cat "$T/xattrs")" "" "xattrs in layers"
	ws layers --store "$STORE" verify
	assert_rc 0
}
