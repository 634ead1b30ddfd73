# Pipeline engines driving wsbox (README "Pipeline engines", issue 16):
# GNU make and ninja over contrib/make and contrib/ninja, and the GitLab
# Runner custom executor of contrib/gitlab-runner called as the runner's
# documented interface calls it (environment, arguments, stage names, exit
# codes): no live runner.
#
# make and ninja build contrib/hello on the host root (read-only), which has
# gcc; the busybox test rootfs has none.

CONTRIB="$HERE/../../contrib"

need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || { echo "no $tool on the host"; exit 77; }
	done
}

rec() {
	python3 - "$STORE/runs/$1/tasks/$2" "$3" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
PY
}

# hits FILE: how many cache_hit events FILE holds.
hits() {
	grep -c '"event":"cache_hit"' "$1" || true
}

# engine CMD...: run an engine with output to $T/out, $T/err; status in $RC.
engine() {
	RC=0
	"$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
}

test_make_builds_the_dag_and_replays_it_from_the_cache() {
	need make gcc
	engine make -s -f "$CONTRIB/make/Makefile" -j4 WSBOX="$WSBOX" RUN=r1 \
		STORE="$STORE" EXEC_OPTS="--events $T/ev1"
	assert_rc 0
	for t in src liba libb link test; do
		assert_eq "$(rec r1 $t status)" succeeded "status of $t"
	done
	assert_eq "$(hits "$T/ev1")" 0 "cache hits of the first build"
	engine make -s -f "$CONTRIB/make/Makefile" -j4 WSBOX="$WSBOX" RUN=r2 \
		STORE="$STORE" EXEC_OPTS="--events $T/ev2"
	assert_rc 0
	assert_eq "$(hits "$T/ev2")" 4 "cache hits of the second build"
	ws exec --store "$STORE" --run r1 --task run --parent link -- ./hello
	assert_rc 0
	assert_out "hello 3"
}

test_make_stops_at_a_failing_task() {
	need make gcc
	cp -r "$CONTRIB/hello" "$T/hello"
	echo 'int b_value(void) { return }' >"$T/hello/b.c"
	engine make -s -f "$CONTRIB/make/Makefile" -j4 WSBOX="$WSBOX" RUN=r \
		STORE="$STORE" HELLO="$T/hello"
	[ "$RC" -ne 0 ] || fail "make succeeded with a broken source"
	assert_eq "$(rec r libb status)" failed "status of libb"
	assert_no_file "$STORE/runs/r/tasks/link"
}

test_ninja_builds_the_dag_and_replays_it_from_the_cache() {
	need ninja gcc
	mkdir "$T/n"
	engine env WSBOX="$WSBOX" WSBOX_RUN=r1 WSBOX_OPTS="--store $STORE" \
		WSBOX_EXEC_OPTS="--events $T/ev1" WSBOX_HELLO="$CONTRIB/hello" \
		ninja -f "$CONTRIB/ninja/build.ninja" -C "$T/n" -j4
	assert_rc 0
	for t in src liba libb link test; do
		assert_eq "$(rec r1 $t status)" succeeded "status of $t"
	done
	engine env WSBOX="$WSBOX" WSBOX_RUN=r2 WSBOX_OPTS="--store $STORE" \
		WSBOX_EXEC_OPTS="--events $T/ev2" WSBOX_HELLO="$CONTRIB/hello" \
		ninja -f "$CONTRIB/ninja/build.ninja" -C "$T/n" -j4
	assert_rc 0
	assert_eq "$(hits "$T/ev2")" 4 "cache hits of the second build"
}

# ---- GitLab Runner custom executor ----

# The environment the runner gives every stage of job $1 (name $2) of
# pipeline 42: job variables as CUSTOM_ENV_*, the failure codes, and the
# administrator's settings.
gitlab_env() {
	export CUSTOM_ENV_CI_PIPELINE_ID=42 CUSTOM_ENV_CI_JOB_ID="$1" \
		CUSTOM_ENV_CI_JOB_NAME="$2" BUILD_FAILURE_EXIT_CODE=31 \
		SYSTEM_FAILURE_EXIT_CODE=32 WSBOX="$WSBOX" WSBOX_STORE="$STORE" \
		WSBOX_GITLAB_OPTS="--rootfs $ROOTFS" WSBOX_GITLAB_STATE="$T/state"
}

# gl STAGE ARGS...: one driver, as the runner runs it.
gl() {
	d=$1; shift
	engine "$CONTRIB/gitlab-runner/$d" "$@"
}

# gl_run STAGE SCRIPT-TEXT: the run stage with a script file the runner
# wrote for sub-stage STAGE.
gl_run() {
	printf '%s\n' "$2" >"$T/script-$1"
	gl run "$T/script-$1" "$1"
}

test_gitlab_config_prints_the_builds_dir() {
	gitlab_env 1 build
	gl config
	assert_rc 0
	assert_eq "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["builds_dir"])' <"$T/out")" \
		/workspace/builds "builds_dir"
}

test_gitlab_job_stages_share_a_workspace_and_commit() {
	gitlab_env 1 "build job"
	gl prepare
	assert_rc 0
	gl_run prepare_script 'echo preparing'
	assert_rc 0
	assert_out preparing
	gl_run get_sources 'mkdir -p /workspace/builds/p && echo src > /workspace/builds/p/src'
	assert_rc 0
	gl_run step_script 'cd /workspace/builds/p && cat src && echo built > out && echo $WSBOX_GITLAB_STAGE'
	assert_rc 0
	assert_out "src
step_script"
	gl_run after_script 'test -f /workspace/builds/p/out'
	assert_rc 0
	gl cleanup
	assert_rc 0
	assert_eq "$(rec 42 build-job status)" succeeded "record of the job"
	assert_no_file "$T/state/1"
	assert_eq "$(ls -A "$STORE/staging")" "" "staging left"
	# A later job of the pipeline names it in WSBOX_PARENTS, as a task.
	gitlab_env 2 test
	export CUSTOM_ENV_WSBOX_PARENTS="build-job"
	gl prepare
	assert_rc 0
	gl_run step_script 'cat /workspace/builds/p/out'
	assert_rc 0
	assert_out built
	gl cleanup
	assert_rc 0
	assert_eq "$(rec 42 test status)" succeeded "record of the second job"
}

test_gitlab_failed_script_is_a_build_failure_and_aborts() {
	gitlab_env 3 build
	gl prepare
	assert_rc 0
	gl_run step_script 'echo x > /workspace/f; exit 4'
	assert_rc 31
	gl_run after_script 'true'
	assert_rc 0
	gl cleanup
	assert_rc 0
	assert_no_file "$STORE/runs/42/tasks/build"
	assert_eq "$(ls -A "$STORE/staging")" "" "staging left"
}

test_gitlab_wsbox_failure_is_a_system_failure() {
	gitlab_env 4 build
	export CUSTOM_ENV_WSBOX_PARENTS=ghost
	gl prepare
	assert_rc 32
	assert_err_has "attempt begin failed"
	gl cleanup
	assert_rc 0
	unset CUSTOM_ENV_WSBOX_PARENTS
	gitlab_env 5 build
	gl prepare
	assert_rc 0
	ws attempt abort "$(cat "$T/state/5/attempt")" --store "$STORE"
	assert_rc 0
	gl_run step_script 'true'
	assert_rc 32
}
