# Buildbot driving wsbox across two workers (contrib/buildbot, README
# "Pipeline engines"): a real master and two real buildbot-workers on
# 127.0.0.1, each worker with its own store, layers crossing through
# Debian's docker-registry. A build is started with `buildbot sendchange`
# and judged from the master's own database (Debian has no buildbot-www,
# hence no REST API) and from the two stores. Every daemon is stopped by
# its pid when the test ends, whichever way it ends.
#
# The tasks run on the host root (read-only), which has gcc.

BB_CFG="$HERE/../../contrib/buildbot/master.cfg"

need_buildbot() {
	for tool in buildbot buildbot-worker; do
		command -v "$tool" >/dev/null 2>&1 ||
		    { echo "no $tool (apt-get install buildbot buildbot-worker)"; exit 77; }
	done
	for tool in docker-registry gcc; do
		command -v "$tool" >/dev/null 2>&1 || { echo "no $tool on the host"; exit 77; }
	done
	# Buildbot and wsbox keep nothing of the user's own here.
	export HOME="$T/home" XDG_RUNTIME_DIR="$T/xdg"
	unset WSBOX_REMOTE WSBOX_STORE REGISTRY_AUTH_FILE
	mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# up WHAT CMD...: CMD until it succeeds, at most 120 s.
up() {
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "$what did not come up"
		sleep 0.2
	done
}

registry_answers() {
	python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
	    "http://127.0.0.1:$REG_PORT/v2/"
}

# Stops a twistd daemon by the pid in DIR/twistd.pid; SIGKILL after 30 s.
stop_twistd() {
	[ -s "$1/twistd.pid" ] || return 0
	pid=$(cat "$1/twistd.pid")
	kill "$pid" 2>/dev/null || return 0
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
		i=$((i + 1))
		sleep 0.2
	done
	kill -9 "$pid" 2>/dev/null
	return 0
}

stop_all() {
	# Workers first: a worker gone, its master has nothing left to wait for.
	stop_twistd "$T/wa"
	stop_twistd "$T/wb"
	stop_twistd "$T/m"
	if [ -n "${REG_PID:-}" ]; then
		kill "$REG_PID" 2>/dev/null
		wait "$REG_PID" 2>/dev/null
		REG_PID=
	fi
}

# start_buildbot: the registry, the master (contrib/buildbot/master.cfg by a
# symlink, as a human sets it up) and workers a and b, stores $T/a, $T/b.
start_buildbot() {
	trap stop_all EXIT
	REG_PORT=$(free_port)
	mkdir -p "$T/registry"
	printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "127.0.0.1:%s"}\n' \
	    "$T/registry" "$REG_PORT" >"$T/registry.yml"
	docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
	REG_PID=$!
	up registry registry_answers

	BB_PORT=$(free_port)
	web_port=$(free_port)
	export WSBOX_BB_WSBOX="$WSBOX" WSBOX_BB_REMOTE="http://127.0.0.1:$REG_PORT/wsbox/bb" \
	    WSBOX_BB_STORE_A="$T/a" WSBOX_BB_STORE_B="$T/b" WSBOX_BB_WORKER_PORT="$BB_PORT" \
	    WSBOX_BB_WEB_PORT="$web_port" WSBOX_BB_PASSWORD="pw-$$"
	buildbot create-master -q "$T/m" >"$T/create.log" 2>&1 ||
	    fail "create-master: $(tail -n 5 "$T/create.log")"
	ln -s "$BB_CFG" "$T/m/master.cfg"
	buildbot start --start_timeout=120 "$T/m" >"$T/start.log" 2>&1 ||
	    fail "master did not start: $(tail -n 20 "$T/start.log" "$T/m/twistd.log" 2>&1)"
	for w in a b; do
		# twistd's umask is 077; a worker's tasks want the usual 022.
		buildbot-worker create-worker -q --umask=0o022 "$T/w$w" "127.0.0.1:$BB_PORT" \
		    "$w" "$WSBOX_BB_PASSWORD" >>"$T/create.log" 2>&1 ||
		    fail "create-worker $w: $(tail -n 5 "$T/create.log")"
		timeout 120 buildbot-worker start "$T/w$w" >>"$T/start.log" 2>&1 ||
		    fail "worker $w did not start: $(tail -n 20 "$T/start.log" "$T/w$w/twistd.log" 2>&1)"
	done
}

# bbq SQL: rows of the master's database, one a line, fields tab-separated.
bbq() {
	python3 - "$T/m/state.sqlite" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
for row in db.execute(sys.argv[2]):
    print("\t".join("" if v is None else str(v) for v in row))
PY
}

# sendchange PROPERTY...: one change with these wsbox_* properties (K:V),
# then wait until every build request it led to is complete; at most 120 s.
sendchange() {
	n=$#
	for p in "$@"; do set -- "$@" --property "$p"; done
	shift "$n"
	buildbot sendchange --master "127.0.0.1:$BB_PORT" --auth "wsbox:$WSBOX_BB_PASSWORD" \
	    --who t_buildbot "$@" main.c >"$T/sendchange.log" 2>&1 ||
	    fail "sendchange: $(cat "$T/sendchange.log")"
	i=0
	until [ "$(bbq 'select count(*) > 0 and count(*) = sum(complete) from buildrequests')" = 1 ]; do
		i=$((i + 1))
		[ $i -lt 240 ] || fail "builds unfinished after 120 s: $(bbq 'select * from builds')
$(tail -n 20 "$T/m/twistd.log")"
		sleep 0.5
	done
}

# build BUILDER: "results worker" of BUILDER's only build.
build() {
	bbq "select b.results, w.name from builds b join builders u on u.id = b.builderid
	    join workers w on w.id = b.workerid where u.name = '$1'" | tr '\t' ' '
}

# steps BUILDER: "name results" of each step of BUILDER's build, in order.
steps() {
	bbq "select s.name, s.results from steps s join builds b on b.id = s.buildid
	    join builders u on u.id = b.builderid where u.name = '$1' order by s.number" | tr '\t' ' '
}

# step_stdout BUILDER STEP: what STEP's command wrote on stdout, as Buildbot
# logged it (stdio lines of stream o; chunks raw, gzip'd or bzip2'd).
step_stdout() {
	python3 - "$T/m/state.sqlite" "$1" "$2" <<'PY'
import bz2, sqlite3, sys, zlib
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
rows = db.execute("""select c.content, c.compressed from logchunks c
    join logs l on l.id = c.logid join steps s on s.id = l.stepid
    join builds b on b.id = s.buildid join builders u on u.id = b.builderid
    where u.name = ? and s.name = ? and l.name = 'stdio' order by c.first_line""",
    (sys.argv[2], sys.argv[3]))
for content, how in rows:
    if isinstance(content, str):
        content = content.encode()
    content = {0: lambda b: b, 1: zlib.decompress, 2: bz2.decompress}[how](content)
    for line in content.decode().splitlines():
        if line.startswith("o"):
            print(line[1:])
PY
}

rec() { # STORE RUN TASK FIELD
	python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if v is None else v)' \
	    "$1/runs/$2/tasks/$3" "$4"
}

test_buildbot_compiles_on_one_worker_and_tests_on_the_other_through_the_registry() {
	need_buildbot
	start_buildbot
	# Worker b starts without a store: whatever it has comes from the build.
	assert_no_file "$T/b"
	sendchange wsbox_run:bb1
	assert_eq "$(build compile)" "0 a" "compile: results, worker"
	assert_eq "$(build test)" "0 b" "test: results, worker"
	assert_eq "$(steps test | tr '\n' ,)" \
	    "worker_preparation 0,pull compile 0,begin test 0,run hello 0,check 0,commit test 0,abort test 3,push 0," \
	    "steps of test (3: skipped)"
	assert_eq "$(step_stdout test 'run hello')" "hello 3" "stdout of step run hello"
	# Worker a built compile; worker b has its layer from the registry and
	# a pulled record of it (which names no logs), never a build of its own.
	layer=$(rec "$T/a" bb1 compile layer) || exit 1
	assert_eq "$(rec "$T/a" bb1 compile status)" succeeded "compile on a"
	[ "$(rec "$T/a" bb1 compile stdout)" != null ] || fail "a's compile record names no log"
	ws layers --store "$T/b" ls
	assert_rc 0
	assert_out_has "$layer "
	assert_eq "$(rec "$T/b" bb1 compile layer)" "$layer" "b's record of compile"
	assert_eq "$(rec "$T/b" bb1 compile stdout)" null "b's compile record's log"
	assert_no_file "$T/a/runs/bb1/tasks/test"
	# Worker b's test stood on that layer, ran the binary and published.
	assert_eq "$(rec "$T/b" bb1 test status)" succeeded "test on b"
	python3 -c 'import json, sys; sys.exit(sys.argv[2] not in json.load(open(sys.argv[1]))["lowers"])' \
	    "$T/b/runs/bb1/tasks/test" "$layer" || fail "test's lowers lack compile's layer"
	ws restore --store "$T/b" --run bb1 --task test --to "$T/restored" --with-self
	assert_rc 0
	assert_eq "$(cat "$T/restored/result")" "hello 3" "test's result file"
	assert_eq "$(ls -A "$T/a/staging")" "" "a's staging"
	assert_eq "$(ls -A "$T/b/staging")" "" "b's staging"
}

test_buildbot_failed_step_aborts_the_attempt_and_triggers_nothing() {
	need_buildbot
	cp -r "$HERE/../../contrib/hello" "$T/broken" || fail "cp hello"
	echo 'int b_value(void) { return }' >"$T/broken/b.c"
	start_buildbot
	sendchange wsbox_run:bad "wsbox_sources:$T/broken"
	assert_eq "$(build compile)" "2 a" "compile: results (2: failure), worker"
	assert_eq "$(steps compile | tr '\n' ,)" \
	    "worker_preparation 0,run 0,import src 0,begin compile 0,cc a.c 0,cc b.c 2,abort compile 0," \
	    "steps of compile"
	assert_eq "$(build test)" "" "builds of test"
	assert_eq "$(ls "$T/a/runs/bad/tasks")" src "tasks of run bad on a"
	assert_eq "$(ls -A "$T/a/staging")" "" "a's staging after the abort"
	assert_eq "$(ls "$T/registry/docker/registry/v2/repositories/wsbox/bb/_manifests/tags" 2>/dev/null)" "" \
	    "tags pushed"
}
