# Many executors (README "Many executors"): `wsbox exec --remote`, `wsbox
# push` and `wsbox pull` sharing one run through Debian's docker-registry on
# 127.0.0.1. Two executors are two unprivileged users, wsbox-exa and
# wsbox-exb, with private stores (0700) that cannot read each other, when
# the suite runs as root; unprivileged (the rootless pass) they are two
# stores of the same user, which can read each other. Registry helpers
# (need_registry, start_registry, stop_registry) come from t_remote.sh.

. "$HERE/t_remote.sh"

# Executors A and B: stores $SA and $SB, users $UA and $UB (empty when
# unprivileged), the registry at $URL.
setup_executors() {
	need_registry
	start_registry
	mkdir -p "$T/exa" "$T/exb"
	SA="$T/exa/store" SB="$T/exb/store" UA= UB=
	if [ "$(id -u)" = 0 ]; then
		for u in wsbox-exa wsbox-exb; do
			id "$u" >/dev/null 2>&1 || useradd --no-create-home --shell /bin/sh "$u" ||
			    fail "useradd $u"
		done
		UA=wsbox-exa UB=wsbox-exb
		chown wsbox-exa: "$T/exa"
		chown wsbox-exb: "$T/exb"
		# The executors are other users: the binary and the rootfs
		# must be where they can reach them (the checkout may sit
		# under /root, 0700, as on a fresh Debian).
		mkdir -p "$T/shared"
		cp "$WSBOX" "$T/shared/wsbox" || fail "copy the binary"
		cp -a "$ROOTFS" "$T/shared/rootfs" || fail "copy the rootfs"
		chmod -R a+rX "$T/shared"
		chmod a+x "$T"
		WSBOX="$T/shared/wsbox" ROOTFS="$T/shared/rootfs"
	fi
	chmod 0700 "$T/exa" "$T/exb"
}

# on A|B ARGS...: wsbox as that executor (its store in $WSBOX_STORE, the
# remote in $WSBOX_REMOTE: $ON_REMOTE when set, else $URL), output in
# $T/out and $T/err, status in $RC.
on() {
	if [ "$1" = A ]; then u=$UA s=$SA; else u=$UB s=$SB; fi
	shift
	set -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$HOME" \
	    XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" WSBOX_STORE="$s" WSBOX_REMOTE="${ON_REMOTE-$URL}" \
	    "$WSBOX" "$@"
	[ -z "$u" ] || set -- setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
	RC=0
	"$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
}

# onx A|B ARGS...: `wsbox exec` on the test rootfs.
onx() {
	who=$1
	shift
	on "$who" exec --rootfs "$ROOTFS" "$@"
}

# The layers of TASKS... as `wsbox runs show RUN --json` on the executor
# prints them, one `task=layer` per line.
layers_of() { # A|B RUN TASK...
	who=$1 run=$2
	shift 2
	on "$who" runs show "$run" --json
	[ "$RC" = 0 ] || fail "runs show $run on $who: $(cat "$T/err")"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for t in d["tasks"]:
    if t["task"] in sys.argv[2:]:
        print("%s=%s" % (t["task"], t["layer"]))' "$T/out" "$@"
}

# The registry again, on the same port and storage (start_registry's config).
restart_registry() {
	docker-registry serve "$T/registry.yml" >>"$T/registry.log" 2>&1 &
	REG_PID=$!
	i=0
	until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "registry did not restart: $(tail -n 5 "$T/registry.log")"
		sleep 0.1
	done
}

# A: fetch writes sources, build writes a binary and deletes a source.
run_fetch_and_build() {
	onx A --run r1 --task fetch -- sh -c 'mkdir src; echo v1 > src/main.c; echo old > src/old'
	assert_rc 0
	onx A --run r1 --task build --parent fetch -- sh -c 'echo bin > app; rm src/old; echo built'
	assert_rc 0
}

test_executors_share_a_run_through_a_registry() {
	setup_executors
	run_fetch_and_build
	onx B --run r1 --task test --parent build -- sh -c 'cat app src/main.c; [ -e src/old ] || echo old-gone'
	assert_rc 0
	assert_out "$(printf 'bin\nv1\nold-gone')"
	a=$(layers_of A r1 fetch build) || exit 1
	b=$(layers_of B r1 fetch build) || exit 1
	assert_eq "$(echo "$a" | wc -l)" 2 "layers recorded on A"
	assert_eq "$b" "$a" "layers recorded on B"
	on B layers verify
	assert_rc 0
	if [ -n "$UB" ]; then
		setpriv --reuid="$UB" --regid="$UB" --clear-groups ls "$SA" >/dev/null 2>&1 &&
		    fail "executor B can read A's store"
		assert_eq "$(stat -c %a "$SA")" 700 "mode of A's store"
	fi
}

test_executors_cache_hit_in_another_run_runs_no_sandbox() {
	setup_executors
	onx A --run r1 --task build --events "$T/exa/events" -- sh -c 'echo made > out; echo compiled'
	assert_rc 0
	grep '"event": *"task_finished"' "$T/exa/events" | grep -q '"limits_via"' ||
	    fail "no sandbox report on A: $(cat "$T/exa/events")"
	onx B --run r2 --task build --events "$T/exb/events" -- sh -c 'echo made > out; echo compiled'
	assert_rc 0
	assert_out compiled
	grep -q '"event": *"cache_hit".*"remote": *true' "$T/exb/events" ||
	    fail "no remote cache_hit event: $(cat "$T/exb/events")"
	grep -q '"event": *"task_finished".*"cache_hit": *true' "$T/exb/events" ||
	    fail "task_finished is not a hit: $(cat "$T/exb/events")"
	# What a sandbox reports (its limits) is absent: none ran.
	grep '"event": *"task_finished"' "$T/exb/events" | grep -q '"limits_via"' &&
	    fail "a sandbox ran on B: $(cat "$T/exb/events")"
	assert_eq "$(layers_of B r2 build | cut -d= -f2)" "$(layers_of A r1 build | cut -d= -f2)" "layer of the hit"
	on B layers verify
	assert_rc 0
}

test_executors_stopped_registry_fails_the_pull_naming_the_remote() {
	setup_executors
	run_fetch_and_build
	stop_registry
	onx B --run r1 --task test --parent build -- true
	assert_rc 125
	assert_err_has "wsbox: remote $URL: connection refused"
	on B layers verify
	assert_rc 0
	assert_no_file "$SB/runs/r1/tasks/build"
	assert_no_file "$SB/runs/r1/tasks/test"
}

test_executors_failed_push_keeps_the_result_and_names_the_retry() {
	setup_executors
	onx A --run r1 --task fetch -- sh -c 'echo v1 > main.c'
	assert_rc 0
	stop_registry
	onx A --run r1 --task build --parent fetch -- sh -c 'echo bin > app'
	assert_rc 125
	assert_err_has "wsbox: remote $URL: connection refused"
	assert_err_has "retry the push with \`wsbox push --run r1 --task build\`"
	assert_eq "$(rec "$SA" r1 build status)" succeeded "A's record of build"
	assert_file "$SA/layers/$(rec "$SA" r1 build layer | cut -d: -f2)"
	restart_registry
	on A push --run r1 --task build
	assert_rc 0
	assert_out "pushed task build of run r1"
	onx B --run r1 --task test --parent build -- cat app main.c
	assert_rc 0
	assert_out "$(printf 'bin\nv1')"
}

test_executors_pull_then_restore() {
	setup_executors
	mkdir -p "$T/exa/src/lib"
	echo hello >"$T/exa/src/lib/a.txt"
	chmod -R a+rX "$T/exa/src"
	on A import --run r1 --task fetch "$T/exa/src"
	assert_rc 0
	onx A --run r1 --task build --parent fetch -- sh -c 'echo bin > app'
	assert_rc 0
	# The import ran without a remote: push the whole run.
	on A push --run r1
	assert_rc 0
	assert_out "pushed 2 tasks of run r1"
	on B pull --run r1 --task build
	assert_rc 0
	assert_out "pulled task build of run r1: 2 records, 2 layers"
	assert_eq "$(layers_of B r1 fetch build)" "$(layers_of A r1 fetch build)" "pulled layers"
	on B restore --run r1 --task build --with-self --to "$T/exb/ws"
	assert_rc 0
	assert_eq "$(cat "$T/exb/ws/lib/a.txt")" hello "restored import"
	assert_eq "$(cat "$T/exb/ws/app")" bin "restored build"
	# Pulled again: nothing to do.
	on B pull --run r1 --task build
	assert_rc 0
	assert_out "pulled task build of run r1: 0 records, 0 layers"
}

test_executors_failed_pull_leaves_the_store_unchanged() {
	setup_executors
	run_fetch_and_build
	on B pull --run r1 --task ghost
	assert_rc 125
	assert_err_has "remote $URL: task ghost: not in run r1"
	stop_registry
	on B pull --run r1 --task build
	assert_rc 125
	assert_err_has "wsbox: remote $URL: connection refused"
	on B layers verify
	assert_rc 0
	assert_eq "$(layers_in "$SB")" 0 "layers after failed pulls"
	assert_no_file "$SB/runs/r1/tasks/build"
}

test_executors_remote_options_are_validated() {
	ws exec --store "$STORE" --remote http://example.com/wsbox/test -- true
	assert_rc 125
	assert_err_has "plain http only to a loopback host"
	assert_no_file "$STORE"
	ws exec --store "$STORE" --remote-compression lz4 -- true
	assert_rc 125
	assert_err_has "--remote-compression \`lz4\`: want zstd or gzip"
	ws push --store "$STORE" --run r1
	assert_rc 125
	ws pull --store "$STORE" --run r1
	assert_rc 125
	assert_err_has "wants --run RUN --task NAME"
	unset WSBOX_REMOTE
	ws pull --store "$STORE" --run r1 --task t
	assert_rc 125
	assert_err_has "pull: no remote (give --remote URL or set \$WSBOX_REMOTE)"
}

test_executors_run_passes_the_remote_to_every_exec() {
	setup_executors
	cat >"$T/exa/wsbox.yml" <<EOF
tasks:
  fetch:
    run: mkdir src && echo v1 > src/main.c
    rootfs: $ROOTFS
  build:
    run: cp src/main.c app
    needs: [fetch]
    rootfs: $ROOTFS
EOF
	chmod a+r "$T/exa/wsbox.yml"
	# Only --remote names the registry: A's environment does not.
	ON_REMOTE=
	on A run "$T/exa/wsbox.yml" --run r1 -j 1 --remote "$URL"
	assert_rc 0
	unset ON_REMOTE
	onx B --run r1 --task test --parent build -- cat app
	assert_rc 0
	assert_out v1
}

test_executors_local_parent_is_kept_over_the_remote() {
	setup_executors
	run_fetch_and_build
	# B has its own build in r1: exec uses it and pulls nothing.
	onx B --run r1 --task build -- sh -c 'echo mine > app'
	assert_rc 0
	mine=$(layers_of B r1 build) || exit 1
	onx B --run r1 --task test --parent build -- cat app
	assert_rc 0
	assert_out mine
	assert_eq "$(layers_of B r1 build)" "$mine" "B's record of build"
}

test_executors_identical_work_converges_on_one_digest() {
	setup_executors
	run_fetch_and_build
	# B runs the same tasks itself (no cache): the same layers.
	onx B --run r1 --task fetch --no-cache -- sh -c 'mkdir src; echo v1 > src/main.c; echo old > src/old'
	assert_rc 0
	onx B --run r1 --task build --parent fetch --no-cache -- sh -c 'echo bin > app; rm src/old; echo built'
	assert_rc 0
	assert_eq "$(layers_of B r1 fetch build)" "$(layers_of A r1 fetch build)" "layers of identical work"
}
