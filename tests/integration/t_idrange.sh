# Root mode's id range never meets another user's ids (docs/sandbox.md
# "Root mode"): an /etc/subuid or /etc/subgid entry of anyone but root, or a
# uid/gid of /etc/passwd or /etc/group, makes exec refuse (125) and doctor
# FAIL. Root only. These tests edit the host's /etc/subuid and /etc/subgid:
# each backs both up first and puts them back byte for byte on any exit, and
# an entry over the default range lives only for the one command under test
# (other root-mode users of this host would be refused meanwhile).

need_root() { [ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }; }

DEFAULT_BASE=1879048192
DEFAULT_LAST=$((DEFAULT_BASE + 65535))
HINT="pick another with --idmap-base or give root its own /etc/subuid entry"

# Without root's own entry, tasks map to the default range.
need_default_range() {
	need_root
	! grep -q '^\(root\|0\):' /etc/subuid /etc/subgid 2>/dev/null ||
		{ echo "root has its own /etc/subuid range"; exit 77; }
}

# Back up /etc/subuid and /etc/subgid; restore them on any exit of the test.
ids_save() {
	for f in subuid subgid; do
		if [ -e "/etc/$f" ]; then
			cp -p "/etc/$f" "$T/$f.orig" || exit 1
		else
			: >"$T/$f.absent"
		fi
	done
	trap ids_restore EXIT
	trap 'ids_restore; exit 130' INT TERM HUP
}
ids_restore() {
	for f in subuid subgid; do
		if [ -e "$T/$f.orig" ]; then
			cp -p "$T/$f.orig" "/etc/$f"
		elif [ -e "$T/$f.absent" ]; then
			rm -f "/etc/$f"
		fi
	done
}
# The files are exactly what they were.
assert_ids_restored() {
	for f in subuid subgid; do
		if [ -e "$T/$f.orig" ]; then
			cmp -s "$T/$f.orig" "/etc/$f" || fail "/etc/$f not restored"
		else
			assert_no_file "/etc/$f"
		fi
	done
}

test_idrange_another_users_subuid_entry_over_the_default_is_refused() {
	refuses_subuid_entry_over_the_default "wsbox-idr:$DEFAULT_BASE:65536"
	wsx -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(awk '{print $1, $2, $3}' "$T/out")" "0 $DEFAULT_BASE 65536" uid_map
}

# newuidmap reads these numbers with base 0 (shadow-utils' getulong): a hex
# entry grants the default range just as a decimal one does.
test_idrange_hex_subuid_entry_over_the_default_is_refused() {
	refuses_subuid_entry_over_the_default "$(printf 'wsbox-idr:0x%x:0x10000' "$DEFAULT_BASE")"
}

# refuses_subuid_entry_over_the_default LINE: with LINE in /etc/subuid, an
# exec on the default range is refused naming the entry, nothing is left.
refuses_subuid_entry_over_the_default() {
	need_default_range
	ids_save
	echo "$1" >>/etc/subuid
	wsx -- true
	ids_restore
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: id range $DEFAULT_BASE-$DEFAULT_LAST: overlaps /etc/subuid entry of user wsbox-idr ($DEFAULT_BASE-$DEFAULT_LAST); $HINT" stderr
	assert_store_clean
	assert_ids_restored
}

test_idrange_partial_overlap_of_a_subgid_entry_is_refused() {
	need_root
	ids_save
	echo "wsbox-idr:3000060000:100" >>/etc/subgid
	wsx --idmap-base 3000000000 -- true
	ids_restore
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: id range 3000000000-3000065535: overlaps /etc/subgid entry of user wsbox-idr (3000060000-3000060099); $HINT" stderr
	assert_ids_restored
	wsx --idmap-base 3000000000 -- true
	assert_rc 0
}

test_idrange_numeric_subuid_entry_names_the_uid() {
	need_root
	ids_save
	echo "4242:3000000000:65536" >>/etc/subuid
	wsx --idmap-base 3000000000 -- true
	ids_restore
	assert_rc 125
	assert_err_has "overlaps /etc/subuid entry of uid 4242 (3000000000-3000065535)"
	assert_ids_restored
}

test_idrange_base_on_a_users_uid_is_refused() {
	need_root
	# A real user of this host: the first non-root passwd entry whose uid
	# the 65536 ids from it do not run past.
	line=$(awk -F: '$3 > 0 && $3 < 4294901760 {print $3 ":" $1; exit}' /etc/passwd)
	[ -n "$line" ] || { echo "no non-root user in /etc/passwd"; exit 77; }
	uid=${line%%:*}; name=${line#*:}
	wsx --idmap-base "$uid" -- true
	assert_rc 125
	assert_err_has "wsbox: id range $uid-$((uid + 65535)): overlaps uid $uid of user $name in /etc/passwd; $HINT"
	assert_store_clean
}

test_idrange_roots_own_entry_is_used_even_beside_others() {
	need_root
	ids_save
	grep -v '^\(root\|0\):' "$T/subuid.orig" >/etc/subuid 2>/dev/null
	grep -v '^\(root\|0\):' "$T/subgid.orig" >/etc/subgid 2>/dev/null
	echo "root:3100000000:65536" >>/etc/subuid
	echo "root:3100000000:65536" >>/etc/subgid
	echo "wsbox-idr:3100065536:65536" >>/etc/subuid
	wsx -- cat /proc/self/uid_map
	ids_restore
	assert_rc 0
	assert_eq "$(awk '{print $1, $2, $3}' "$T/out")" "0 3100000000 65536" uid_map
	assert_ids_restored
}

test_idrange_roots_entry_over_another_users_is_refused() {
	need_root
	ids_save
	grep -v '^\(root\|0\):' "$T/subuid.orig" >/etc/subuid 2>/dev/null
	grep -v '^\(root\|0\):' "$T/subgid.orig" >/etc/subgid 2>/dev/null
	echo "root:3100000000:65536" >>/etc/subuid
	echo "root:3100000000:65536" >>/etc/subgid
	echo "wsbox-idr:3100000000:65536" >>/etc/subuid
	wsx -- true
	ids_restore
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: id range 3100000000-3100065535: overlaps /etc/subuid entry of user wsbox-idr (3100000000-3100065535); move root's /etc/subuid, /etc/subgid entry or pick another range with --idmap-base" stderr
	assert_ids_restored
}

test_idrange_doctor_reports_the_overlap() {
	need_default_range
	ids_save
	echo "wsbox-idr:$DEFAULT_BASE:65536" >>/etc/subuid
	ws doctor
	ids_restore
	assert_rc 1
	assert_out_has "FAIL root mode: id range $DEFAULT_BASE-$DEFAULT_LAST: overlaps /etc/subuid entry of user wsbox-idr ($DEFAULT_BASE-$DEFAULT_LAST); $HINT"
	assert_ids_restored
	ws doctor
	assert_out_has " root mode: tasks map "
	assert_out_has "$DEFAULT_BASE"
	! grep -q '^FAIL root mode' "$T/out" || fail "root mode still FAILs: $(grep '^FAIL root mode' "$T/out")"
}

# Per-tenant ranges (docs/sandbox.md "Id blocks"): each --tenant NAME
# gets the lowest free 65536-id block of the pool in the range allocation
# file, keeps it across execs, and gives it back with gc --release-tenant,
# which is refused while a task of the tenant runs.
ranges_file() { # POOL_FIRST POOL_COUNT
	printf '# test pool\npool %s %s\n' "$1" "$2" >"$T/ranges"
	export WSBOX_RANGES="$T/ranges"
}
base_of() { awk '{print $2}' "$T/out"; }

test_idrange_tenants_get_disjoint_blocks_kept_across_execs() {
	need_root
	ranges_file 3000000000 196608
	wsx --no-cache --tenant alice -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000000000 alice
	wsx --no-cache --tenant bob -- cat /proc/self/gid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000065536 bob
	wsx --no-cache --tenant alice -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000000000 "alice again"
	assert_eq "$(grep -c '^tenant ' "$T/ranges")" 2 "allocations"
}

test_idrange_tenant_release_refused_while_running_then_reused() {
	need_root
	ranges_file 3000000000 131072
	wsx --no-cache --tenant alice -- true
	assert_rc 0
	trap stop_sleepers EXIT
	start_sleeper --tenant bob
	ws gc --release-tenant bob
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: tenant bob: a task in its ids 3000065536-3000131071 is still running" stderr
	wsx --no-cache --tenant carol -- true
	assert_rc 125
	assert_err_has "all 2 blocks of the pool are taken"
	stop_sleepers
	ws gc --release-tenant bob
	assert_rc 0
	assert_out "gc: released tenant bob (ids 3000065536-3000131071)"
	wsx --no-cache --tenant carol -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000065536 "carol gets bob's block"
	ws gc --release-tenant bob
	assert_rc 125
	assert_err_has "tenant bob has no block in"
}

test_idrange_tenant_needs_a_safe_file_and_a_free_block() {
	need_root
	ranges_file 3000000000 65536
	chmod 666 "$T/ranges"
	wsx --tenant alice -- true
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: tenant alice: range allocation file \`$T/ranges\`: want a regular file of root's, writable by no one else" stderr
	chmod 644 "$T/ranges"
	wsx --tenant alice --idmap-base 3000000000 -- true
	assert_rc 125
	assert_err_has "--tenant and --idmap-base: give one of them"
	WSBOX_RANGES=$T/none wsx --tenant alice -- true
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: tenant alice: no range allocation file \`$T/none\`" stderr
	assert_store_clean
}

# The file's directory is root's alone: whoever can write there (sticky or
# not) could plant the temp file root's next text is written to, and own it.
# A crashed writer's temp file is removed by the next change.
test_idrange_tenant_file_in_a_directory_others_can_write_is_refused() {
	need_root
	mkdir -m 1777 "$T/shared"
	printf 'pool 3000000000 131072\n' >"$T/shared/ranges"
	export WSBOX_RANGES="$T/shared/ranges"
	wsx --tenant alice -- true
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: tenant alice: range allocation file \`$T/shared/ranges\`: its directory \`$T/shared\` is writable by others than root" stderr
	[ ! -e "$T/shared/ranges.lock" ] || fail "the lock file was made in an unsafe directory"
	assert_store_clean
	chmod 755 "$T/shared"
	: >"$T/shared/.ranges.tmp.12345"
	wsx --tenant alice -- true
	assert_rc 0
	[ ! -e "$T/shared/.ranges.tmp.12345" ] || fail "a crashed writer's temp file was left"
}

# A block is a range like any other: one that meets a passwd id is refused,
# with the tenant named.
test_idrange_tenant_block_meeting_a_passwd_id_is_refused() {
	need_root
	ranges_file 1 65536
	wsx --tenant alice -- true
	assert_rc 125
	assert_err_has "wsbox: tenant alice: id range 1-65536: overlaps uid"
	# The remedy is the pool, not --idmap-base (not given here).
	assert_err_has "of user daemon in /etc/passwd; move the pool in \`$T/ranges\` to ids no one else has"
	assert_store_clean
}

# A malformed allocation file is refused with its line, never guessed at:
# two tenants on one block would share host ids.
# A FIFO as the file or its lock is refused at once, not waited on (the
# open of a FIFO for reading blocks until a writer comes).
test_idrange_fifo_as_ranges_file_or_lock_is_refused() {
	need_root
	mkfifo -m 644 "$T/ranges"
	export WSBOX_RANGES="$T/ranges"
	timeout 20 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --tenant a -- true >"$T/out" 2>"$T/err"
	RC=$?
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: tenant a: range allocation file \`$T/ranges\`: want a regular file of root's, writable by no one else" stderr
	timeout 20 "$WSBOX" doctor >"$T/out" 2>"$T/err"
	[ $? != 124 ] || fail "doctor waited on the FIFO"
	rm -f "$T/ranges" "$T/ranges.lock"
	printf 'pool 3000000000 131072\n' >"$T/ranges"
	mkfifo -m 600 "$T/ranges.lock"
	timeout 20 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --tenant a -- true >"$T/out" 2>"$T/err"
	RC=$?
	assert_rc 125
	assert_err_has "\`$T/ranges.lock\`: want a regular file of root's"
	assert_store_clean
}

test_idrange_tenant_malformed_file_is_refused() {
	need_root
	printf 'pool 3000000000 131072\ntenant a 3000000000\ntenant b 3000000000\n' >"$T/ranges"
	export WSBOX_RANGES="$T/ranges"
	wsx --tenant c -- true
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: tenant c: range allocation file \`$T/ranges\` line 3: a block given twice" stderr
	printf 'tenant a 3000000000\npool 3000000000 131072\n' >"$T/ranges"
	wsx --tenant a -- true
	assert_rc 125
	assert_err_has "line 1: a block before the pool"
	printf 'pool 3000000000 131072\ntenant a 3000000001\n' >"$T/ranges"
	wsx --tenant a -- true
	assert_rc 125
	assert_err_has "line 2: want \`tenant NAME BASE\`, BASE a block of the pool"
	assert_store_clean
}

# Per-run blocks (docs/sandbox.md "Id blocks"): once a range allocation
# file exists, every run without --tenant gets its own block at its first
# task and keeps it for its later ones; a one-off exec (no --run) gets one
# while it runs, taken back by the next allocation.
test_idrange_runs_get_own_blocks_by_default() {
	need_root
	ranges_file 3000000000 262144
	wsx --no-cache --run r1 --task a -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000000000 "run r1"
	wsx --no-cache --run r2 --task a -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000065536 "run r2"
	wsx --no-cache --run r1 --task b --parent a -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000000000 "run r1's later task"
	wsx --no-cache -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000131072 "a one-off exec"
	wsx --no-cache -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000131072 "the next one-off exec, after the first ended"
	assert_eq "$(grep -c '^run ' "$T/ranges")" 2 "run lines"
	assert_eq "$(grep -c '^once ' "$T/ranges")" 1 "once lines"
	grep -qx "run 3000000000 r1 $(realpath "$STORE")" "$T/ranges" ||
		fail "no line for r1: $(cat "$T/ranges")"
}

# Without a range allocation file every run shares the one range, as
# before (the control for the test above).
test_idrange_runs_share_the_range_without_a_ranges_file() {
	need_root
	export WSBOX_RANGES=
	[ ! -e /etc/wsbox/ranges ] || { echo "/etc/wsbox/ranges exists"; exit 77; }
	wsx --no-cache --run r1 -- cat /proc/self/uid_map
	assert_rc 0
	first=$(base_of)
	wsx --no-cache --run r2 -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" "$first" "run r2 in r1's range"
}

# A run's block goes back with `runs rm` (kept while a task of it still
# runs), and gc takes back the blocks of runs that are gone without that
# (a crash between the removal and the release, or a hand-deleted run).
test_idrange_removed_runs_blocks_are_freed_by_runs_rm_and_gc() {
	need_root
	ranges_file 3000000000 196608
	wsx --no-cache --run r1 -- true
	assert_rc 0
	wsx --no-cache --run r2 -- true
	assert_rc 0
	trap stop_sleepers EXIT
	start_sleeper --run r3
	ws runs --store "$STORE" rm r1
	assert_rc 0
	assert_out "runs rm: released run r1's ids 3000000000-3000065535"
	ws runs --store "$STORE" rm r3
	assert_rc 0
	assert_out "runs rm: run r3's ids 3000131072-3000196607 kept: a task in them still runs (\`wsbox gc\` frees them once it ends)"
	rm -rf "$STORE/runs/r2"
	ws gc --store "$STORE" --dry-run
	assert_rc 0
	assert_out_has "gc: would free ids 3000065536-3000131071 of run r2 (store $(realpath "$STORE"))"
	assert_eq "$(grep -c '^run ' "$T/ranges")" 2 "run lines after the dry run"
	ws gc --store "$STORE"
	assert_rc 0
	assert_out_has "gc: freed ids 3000065536-3000131071 of run r2"
	assert_eq "$(grep -c '^run ' "$T/ranges")" 1 "run lines after gc"
	# The killed task records its end, so r3 is back: removed again, its
	# block goes.
	stop_sleepers
	ws runs --store "$STORE" rm r3
	assert_rc 0
	assert_out "runs rm: released run r3's ids 3000131072-3000196607"
	wsx --no-cache --run r4 -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(base_of)" 3000000000 "r4 gets the lowest freed block"
}

# `wsbox run --tenant NAME` runs every task of the pipeline as the tenant.
test_idrange_run_passes_tenant_to_every_task() {
	need_root
	ranges_file 3000000000 196608
	cat >"$T/p.yml" <<'YML'
tasks:
  a:
    run: awk '{print $2}' /proc/self/uid_map
  b:
    run: awk '{print $2}' /proc/self/uid_map
    needs: [a]
YML
	ws run --store "$STORE" --run pr --tenant acme "$T/p.yml"
	assert_rc 0
	for t in a b; do
		ws logs --store "$STORE" --run pr --task $t
		assert_rc 0
		assert_out 3000000000
	done
	assert_eq "$(cat "$T/ranges")" "# test pool
pool 3000000000 196608
tenant acme 3000000000" "ranges file"
	ws run --store "$STORE" --tenant 'bad name' "$T/p.yml"
	assert_rc 125
	assert_err_has "--tenant \`bad name\`: invalid name (want [A-Za-z0-9][A-Za-z0-9._-]{0,127})"
}

# The tenant is part of the cache key: tenant b is never answered from
# tenant a's entry (a's task could have been tampered with by a's other
# tasks, which share its ids), while a's own rerun is a hit.
test_idrange_tenants_never_share_cache_entries() {
	need_root
	ranges_file 3000000000 131072
	cmd='cat /proc/sys/kernel/random/uuid'
	wsx --tenant a --run r1 -- sh -c "$cmd"
	assert_rc 0
	first=$(cat "$T/out")
	wsx --tenant a --run r2 -- sh -c "$cmd"
	assert_rc 0
	assert_out "$first"
	wsx --tenant b --run r3 -- sh -c "$cmd"
	assert_rc 0
	[ "$(cat "$T/out")" != "$first" ] || fail "tenant b got tenant a's cached output"
}

# doctor says whether blocks are given out, and how many are free.
test_idrange_doctor_reports_the_pool() {
	need_root
	ranges_file 3000000000 131072
	wsx --no-cache --run r1 -- true
	assert_rc 0
	ws doctor
	assert_out_has "ok   id blocks: \`$T/ranges\`: 1 of 2 blocks of 65536 ids from 3000000000 free"
	chmod 666 "$T/ranges"
	ws doctor
	assert_rc 1
	assert_out_has "FAIL id blocks: range allocation file \`$T/ranges\`: want a regular file of root's, writable by no one else"
}

# Crash safety: a one-off exec killed with SIGKILL never gives its block
# back itself; its lock went with it, so gc takes the block back.
test_idrange_killed_execs_block_is_reclaimed_by_gc() {
	need_root
	ranges_file 3000000000 131072
	trap stop_sleepers EXIT
	start_sleeper
	# shellcheck disable=SC2086
	kill -KILL $SLEEPERS
	i=0
	while kill -0 "$SLEEPER_PID" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "the killed exec's task lives on"
		sleep 0.1
	done
	assert_eq "$(grep -c '^once 3000000000$' "$T/ranges")" 1 "the killed exec's line"
	ws gc --store "$STORE"
	assert_rc 0
	assert_out_has "gc: freed ids 3000000000-3000065535 of an ended one-off exec"
	assert_eq "$(grep -c '^once ' "$T/ranges")" 0 "once lines after gc"
}
