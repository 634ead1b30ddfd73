# Remote (README "Many executors", docs/remote.md): layers/registry and
# layers/remote against Debian's docker-registry on 127.0.0.1, through the
# test driver tests/remote/remote_drive (the verbs: t_executors.sh),
# and against tests/remote/fake_registry.py for what a real registry never
# does (bearer tokens, 503s, stalls, oversized answers). Each test starts its
# own server on a free port with storage in $T and stops it by its pid.

DRIVE=${REMOTE_DRIVE:-$BUILD/tests/remote_drive}

need_registry() {
	command -v docker-registry >/dev/null 2>&1 || { echo "no docker-registry"; exit 77; }
	[ -x "$DRIVE" ] || { echo "no $DRIVE (make remote-drive)"; exit 77; }
	# No credentials of the user's own leak into a test.
	export HOME="$T/home" XDG_RUNTIME_DIR="$T/xdg"
	unset REGISTRY_AUTH_FILE WSBOX_REMOTE_CA
	mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_registry [tls] [htpasswd]: REG_PID, PORT, URL, REG_DATA; a trap
# stops it when the test ends.
start_registry() {
	PORT=$(free_port)
	REG_DATA="$T/registry"
	mkdir -p "$REG_DATA"
	scheme=http
	{
		echo "version: 0.1"
		echo "log: {level: info, accesslog: {disabled: false}}"
		echo "storage: {filesystem: {rootdirectory: $REG_DATA}}"
		echo "http:"
		echo "  addr: 127.0.0.1:$PORT"
		if [ "${1:-}" = tls ]; then
			echo "  tls: {certificate: $T/pki/server.pem, key: $T/pki/server.key}"
			scheme=https
		fi
		if [ "${2:-}" = htpasswd ]; then
			echo "auth: {htpasswd: {realm: wsbox-test, path: $T/htpasswd}}"
		fi
	} >"$T/registry.yml"
	docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
	REG_PID=$!
	trap stop_registry EXIT
	URL="$scheme://127.0.0.1:$PORT/wsbox/test"
	# Up when /v2/ answers at all (401 included); at most 10 s.
	i=0
	until python3 - "$scheme://127.0.0.1:$PORT/v2/" <<'PY'
import ssl, sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1, context=ssl._create_unverified_context())
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
PY
	do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "registry did not start: $(tail -n 5 "$T/registry.log")" || return 1
		sleep 0.1
	done
}

stop_registry() {
	[ -n "${REG_PID:-}" ] || return 0
	kill -CONT "$REG_PID" 2>/dev/null
	kill "$REG_PID" 2>/dev/null
	wait "$REG_PID" 2>/dev/null
	REG_PID=
}

# drive ARGS...: the driver, with stdout/stderr in $T/out, $T/err and its
# status in $RC (like ws).
drive() {
	RC=0
	"$DRIVE" "$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
	return 0
}

# rec STORE RUN TASK FIELD: a field of a task record.
rec() {
	python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if v is None else v)' \
	    "$1/runs/$2/tasks/$3" "$4"
}

# The registry's file holding blob D.
blob_file() {
	h=${1#sha256:}
	echo "$REG_DATA/docker/registry/v2/blobs/sha256/$(echo "$h" | cut -c1-2)/$h/data"
}

layers_in() { ls "$1/layers" 2>/dev/null | wc -l; }

# A build task in store A with a file, a symlink and a directory.
make_build() {
	wsx --run r1 --task build -- sh -c 'mkdir -p out; echo hello > out/a; ln -s a out/l; echo built'
	assert_rc 0 || return 1
	LAYER=$(rec "$STORE" r1 build layer)
}

test_remote_layer_push_pull_round_trip() {
	need_registry
	start_registry || return 1
	make_build || return 1
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 0 || return 1
	sent=$(awk '{print $2}' "$T/out")
	[ "$sent" -gt 0 ] || fail "first push sent $sent bytes" || return 1
	# Never uploaded twice.
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 0 || return 1
	assert_eq "$(awk '{print $2}' "$T/out")" 0 "bytes sent by the second push" || return 1
	drive pull-layer "$T/b" "$URL" "$LAYER"
	assert_rc 0 || return 1
	ws layers --store "$T/b" verify "$LAYER"
	assert_rc 0 || return 1
	assert_eq "$(cat "$T/b/layers/${LAYER#sha256:}/tree/out/a")" hello "pulled file" || return 1
	assert_eq "$(readlink "$T/b/layers/${LAYER#sha256:}/tree/out/l")" a "pulled symlink" || return 1
	assert_eq "$(ls "$T/b/staging")" "" "staging after the pull"
}

test_remote_layer_is_mounted_from_another_repository() {
	need_registry
	start_registry || return 1
	make_build || return 1
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 0 || return 1
	REMOTE_MOUNT_FROM=wsbox/test drive push-layer "$STORE" "${URL}-other" "$LAYER"
	assert_rc 0 || return 1
	assert_eq "$(awk '{print $2}' "$T/out")" 0 "bytes sent with a mount" || return 1
	grep -q '"POST /v2/wsbox/test-other/blobs/uploads/?mount=sha256' "$T/registry.log" ||
	    fail "no mount request in the registry log" || return 1
	drive pull-layer "$T/b" "${URL}-other" "$LAYER"
	assert_rc 0
}

test_remote_record_pull_brings_the_whole_ancestry() {
	need_registry
	start_registry || return 1
	make_build || return 1
	wsx --run r1 --task test --parent build -- sh -c 'rm out/l; echo t > t'
	assert_rc 0 || return 1
	drive push-record "$STORE" "$URL" r1 build
	assert_rc 0 || return 1
	drive push-record "$STORE" "$URL" r1 test
	assert_rc 0 || return 1
	drive get-record "$URL" r1 test
	assert_rc 0 || return 1
	assert_out "layer $(rec "$STORE" r1 test layer) status succeeded ancestors 1" || return 1
	REMOTE_PARALLEL=2 drive pull-task "$T/b" "$URL" r1 test
	assert_rc 0 || return 1
	assert_eq "$(head -n 1 "$T/out")" "$(rec "$STORE" r1 test layer)" "task layer" || return 1
	assert_eq "$(sed -n 2p "$T/out")" "build $LAYER" "ancestor" || return 1
	ws layers --store "$T/b" verify
	assert_rc 0 || return 1
	assert_eq "$(layers_in "$T/b")" 2 "layers pulled" || return 1
	drive tags "$URL"
	assert_rc 0 || return 1
	assert_out_has "run-r1.task-build" || return 1
	assert_out_has "run-r1.task-test"
}

test_remote_record_with_long_names_uses_a_hashed_tag() {
	need_registry
	start_registry || return 1
	run=$(printf 'r%.0s' $(seq 1 100))
	wsx --run "$run" --task task-with-a-rather-long-name-too -- sh -c 'echo x > x'
	assert_rc 0 || return 1
	drive push-record "$STORE" "$URL" "$run" task-with-a-rather-long-name-too
	assert_rc 0 || return 1
	drive tags "$URL"
	assert_rc 0 || return 1
	grep -q '^record-[0-9a-f]\{64\}$' "$T/out" || fail "no hashed record tag: $(cat "$T/out")" || return 1
	drive get-record "$URL" "$run" task-with-a-rather-long-name-too
	assert_rc 0 || return 1
	assert_out_has "status succeeded" || return 1
	drive get-record "$URL" "$run" other
	assert_rc 125 || return 1
	assert_err_has "task other: not in run"
}

test_remote_cache_entry_serves_another_store() {
	need_registry
	start_registry || return 1
	wsx --run r1 --task build -- sh -c 'echo out-bytes; echo err-bytes >&2; echo x > made'
	assert_rc 0 || return 1
	key=$(rec "$STORE" r1 build cache_key)
	drive push-cache "$STORE" "$URL" "$key"
	assert_rc 0 || return 1
	drive lookup-cache "$T/b" "$URL" "$key"
	assert_rc 0 || return 1
	assert_out "hit $(rec "$STORE" r1 build layer)" || return 1
	hex=${key#sha256:}
	assert_eq "$(cat "$T/b/cache/tasks/$hex/stdout")" out-bytes stdout || return 1
	assert_eq "$(cat "$T/b/cache/tasks/$hex/stderr")" err-bytes stderr || return 1
	ws layers --store "$T/b" verify
	assert_rc 0 || return 1
	drive lookup-cache "$T/b" "$URL" sha256:0000000000000000000000000000000000000000000000000000000000000000
	assert_rc 0 || return 1
	assert_out miss
}

test_remote_stopped_registry_is_an_error_naming_the_remote() {
	need_registry
	start_registry || return 1
	make_build || return 1
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 0 || return 1
	stop_registry
	drive pull-layer "$T/b" "$URL" "$LAYER"
	assert_rc 125 || return 1
	assert_err_has "wsbox: remote $URL: connection refused" || return 1
	assert_eq "$(layers_in "$T/b")" 0 "layers after a failed pull" || return 1
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 125 || return 1
	assert_err_has "remote $URL: connection refused"
}

test_remote_tampered_blob_is_refused() {
	need_registry
	start_registry || return 1
	make_build || return 1
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 0 || return 1
	blob=$(awk '{print $4}' "$T/out")
	f=$(blob_file "$blob")
	assert_file "$f" || return 1
	printf 'X' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
	drive pull-layer "$T/b" "$URL" "$LAYER"
	assert_rc 125 || return 1
	assert_err_has "blob $blob: digest mismatch" || return 1
	assert_eq "$(layers_in "$T/b")" 0 "layers after a refused pull" || return 1
	assert_eq "$(ls "$T/b/staging")" "" "staging after a refused pull"
}

test_remote_registry_killed_mid_pull_leaves_no_layer() {
	need_registry
	start_registry || return 1
	wsx --run r1 --task big -- sh -c 'head -c 20000000 /dev/urandom > big'
	assert_rc 0 || return 1
	layer=$(rec "$STORE" r1 big layer)
	drive push-layer "$STORE" "$URL" "$layer"
	assert_rc 0 || return 1
	# 2 MB/s: the 20 MB blob takes long enough to stop the registry in
	# the middle of it, once bytes have arrived.
	WSBOX_REMOTE_MAX_RECV_BPS=2000000 WSBOX_REMOTE_STALL_SEC=2 \
	    "$DRIVE" pull-layer "$T/b" "$URL" "$layer" >"$T/out" 2>"$T/err" &
	pull=$!
	i=0
	until [ "$(cat "$T"/b/staging/*/blob-0 2>/dev/null | wc -c)" -gt 0 ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "the pull never started receiving" || return 1
		sleep 0.05
	done
	kill -STOP "$REG_PID"
	sleep 0.5
	kill -KILL "$REG_PID"
	wait "$REG_PID" 2>/dev/null
	REG_PID=
	RC=0
	wait "$pull" || RC=$?
	assert_rc 125 || return 1
	assert_err_has "wsbox: remote $URL:" || return 1
	assert_eq "$(layers_in "$T/b")" 0 "layers after a killed pull" || return 1
	assert_eq "$(ls "$T/b/staging")" "" "staging after a killed pull"
}

test_remote_chunked_upload_of_a_large_layer() {
	need_registry
	start_registry || return 1
	wsx --run r1 --task big -- sh -c 'head -c 70000000 /dev/urandom > big'
	assert_rc 0 || return 1
	layer=$(rec "$STORE" r1 big layer)
	drive push-layer "$STORE" "$URL" "$layer"
	assert_rc 0 || return 1
	sent=$(awk '{print $2}' "$T/out")
	[ "$sent" -gt 67108864 ] || fail "sent only $sent bytes" || return 1
	# 32 MiB chunks: three PATCHes for one blob of > 64 MiB.
	patches=$(grep -c '"PATCH /v2/wsbox/test/blobs/uploads/' "$T/registry.log")
	[ "$patches" -ge 3 ] || fail "$patches PATCH requests in the registry log" || return 1
	drive pull-layer "$T/b" "$URL" "$layer"
	assert_rc 0 || return 1
	cmp "$STORE/layers/${layer#sha256:}/tree/big" "$T/b/layers/${layer#sha256:}/tree/big" ||
	    fail "pulled big file differs"
}

# Self-signed CA and a server certificate for 127.0.0.1 in $T/pki.
make_pki() {
	mkdir -p "$T/pki" && cd "$T/pki" || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=wsbox-test-ca \
	    -keyout ca.key -out ca.pem >/dev/null 2>&1 || return 1
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
	    -keyout server.key -out server.csr >/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:127.0.0.1\n' >ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
	    -days 2 -extfile ext -out server.pem >/dev/null 2>&1 || return 1
	cd "$T" || return 1
}

test_remote_basic_auth_over_tls() {
	need_registry
	command -v htpasswd >/dev/null 2>&1 || { echo "no htpasswd (apache2-utils)"; exit 77; }
	make_pki || fail "openssl failed" || return 1
	htpasswd -Bbn alice s3cret >"$T/htpasswd" || return 1
	start_registry tls htpasswd || return 1
	make_build || return 1
	# Without the CA the certificate is not trusted.
	drive ping "$URL"
	assert_rc 125 || return 1
	assert_err_has "remote $URL:" || return 1
	export WSBOX_REMOTE_CA="$T/pki/ca.pem"
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 125 || return 1
	assert_err_has "remote $URL: 401 unauthorized (no credentials for 127.0.0.1:$PORT; see README \"Many executors\")" || return 1
	# podman's auth file, then docker's config.
	mkdir -p "$XDG_RUNTIME_DIR/containers"
	printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$PORT" \
	    "$(printf alice:wrong | base64)" >"$XDG_RUNTIME_DIR/containers/auth.json"
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 125 || return 1
	assert_err_has "401 unauthorized (the credentials for 127.0.0.1:$PORT were refused)" || return 1
	rm "$XDG_RUNTIME_DIR/containers/auth.json"
	mkdir -p "$HOME/.docker"
	printf '{"auths": {"https://127.0.0.1:%s": {"auth": "%s"}}}\n' "$PORT" \
	    "$(printf alice:s3cret | base64)" >"$HOME/.docker/config.json"
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 0 || return 1
	drive pull-layer "$T/b" "$URL" "$LAYER"
	assert_rc 0 || return 1
	ws layers --store "$T/b" verify "$LAYER"
	assert_rc 0
}

test_remote_layer_is_readable_by_skopeo_and_tar() {
	need_registry
	command -v skopeo >/dev/null 2>&1 || { echo "no skopeo"; exit 77; }
	start_registry || return 1
	make_build || return 1
	drive push-layer "$STORE" "$URL" "$LAYER"
	assert_rc 0 || return 1
	blob=$(awk '{print $4}' "$T/out")
	"$DRIVE" find-layer "$URL" "$LAYER" >"$T/find" || fail "find-layer" || return 1
	skopeo inspect --tls-verify=false "docker://127.0.0.1:$PORT/wsbox/test:layer-${LAYER#sha256:}" >"$T/inspect" 2>"$T/err" ||
	    fail "skopeo inspect: $(cat "$T/err")" || return 1
	grep -qF "\"$blob\"" "$T/inspect" || fail "skopeo lists no layer $blob: $(cat "$T/inspect")" || return 1
	tar --zstd -tf "$(blob_file "$blob")" >"$T/list" || fail "tar --zstd cannot read the blob" || return 1
	grep -qx 'out/a' "$T/list" || fail "layer tar lacks out/a: $(cat "$T/list")" || return 1
	# The config's diff_id is the uncompressed tar's digest (podman checks).
	config=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["config"]["digest"])' \
	    <"$(blob_file "$(awk '{print $6}' "$T/find")")")
	diff_id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["rootfs"]["diff_ids"][0])' \
	    <"$(blob_file "$config")")
	assert_eq "$diff_id" "sha256:$(zstd -dc <"$(blob_file "$blob")" | sha256sum | cut -c1-64)" diff_id || return 1
	skopeo copy --src-tls-verify=false "docker://127.0.0.1:$PORT/wsbox/test:layer-${LAYER#sha256:}" \
	    "oci:$T/oci:copy" >/dev/null 2>"$T/err" || fail "skopeo copy: $(cat "$T/err")" || return 1
	assert_file "$T/oci/blobs/sha256/${blob#sha256:}" || return 1
	# gzip on request, in another repository.
	REMOTE_COMPRESSION=gzip drive push-layer "$STORE" "${URL}-gz" "$LAYER"
	assert_rc 0 || return 1
	blob=$(awk '{print $4}' "$T/out")
	tar -tzf "$(blob_file "$blob")" | grep -qx 'out/a' || fail "gzip layer unreadable"
}

# start_fake MODE: tests/remote/fake_registry.py on a free port (URL, LOG).
start_fake() {
	PORT=$(free_port)
	LOG="$T/fake.log"
	: >"$LOG"
	python3 "$FAKE" "$1" "$PORT" "$LOG" 2>"$T/fake.err" &
	REG_PID=$!
	trap stop_registry EXIT
	URL="http://127.0.0.1:$PORT/wsbox/test"
	i=0
	until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "fake registry did not start: $(cat "$T/fake.err")" || return 1
		sleep 0.1
	done
	: >"$LOG"
}
# $HERE: tests/integration (set by run.sh).
FAKE=${REMOTE_FAKE:-$HERE/../remote/fake_registry.py}

test_remote_bearer_token_flow() {
	need_registry
	start_fake bearer || return 1
	drive ping "$URL"
	assert_rc 125 || return 1
	assert_err_has "remote $URL: 401 unauthorized (no credentials for 127.0.0.1:$PORT" || return 1
	printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$PORT" \
	    "$(printf alice:s3cret | base64)" >"$T/auth.json"
	: >"$LOG"
	REGISTRY_AUTH_FILE="$T/auth.json" drive ping "$URL"
	assert_rc 0 || return 1
	# Challenge, token (basic auth to the realm), then the bearer token.
	assert_eq "$(awk '{print $1, substr($2, 1, 6), $3}' "$LOG" | tr '\n' ';')" \
	    "GET /v2/ -;GET /token Basic;GET /v2/ Bearer;" "requests" || return 1
	printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$PORT" \
	    "$(printf alice:wrong | base64)" >"$T/auth.json"
	REGISTRY_AUTH_FILE="$T/auth.json" drive ping "$URL"
	assert_rc 125 || return 1
	assert_err_has "were refused"
}

test_remote_parallel_downloads_survive_token_expiry() {
	need_registry
	start_fake expiring || return 1
	set --
	for i in 0 1 2 3 4 5; do
		set -- "$@" "sha256:$(printf 'blob-%s\n' $i | sha256sum | cut -c1-64)"
	done
	mkdir "$T/blobs"
	REMOTE_PARALLEL=2 drive get-blobs "$URL" "$T/blobs" "$@"
	assert_rc 0 || return 1
	for i in 0 1 2 3 4 5; do
		assert_eq "$(cat "$T/blobs/$i")" "blob-$i" "blob $i" || return 1
	done
	# More than one token was needed, and each was fetched after a 401.
	[ "$(grep -c '^GET /token' "$LOG")" -ge 2 ] || fail "one token for 6 blobs" || return 1
	missing="sha256:$(printf nope | sha256sum | cut -c1-64)"
	drive get-blobs "$URL" "$T/blobs" "$1" "$missing"
	assert_rc 125 || return 1
	assert_err_has "blob $missing: not found"
}

test_remote_retries_are_bounded() {
	need_registry
	start_fake flaky || return 1
	drive ping "$URL"
	assert_rc 0 || return 1
	assert_eq "$(wc -l <"$LOG")" 3 "requests to a registry that fails twice" || return 1
	stop_registry
	start_fake always-503 || return 1
	drive ping "$URL"
	assert_rc 125 || return 1
	assert_err_has "remote $URL:" || return 1
	assert_err_has "HTTP 503" || return 1
	assert_eq "$(wc -l <"$LOG")" 4 "requests to a registry that always fails"
}

test_remote_oversized_responses_are_refused() {
	need_registry
	start_fake huge-body || return 1
	drive get-record "$URL" r1 build
	assert_rc 125 || return 1
	assert_err_has "response larger than 4194304 bytes" || return 1
	stop_registry
	start_fake huge-header || return 1
	drive ping "$URL"
	assert_rc 125 || return 1
	assert_err_has "response headers larger than"
}

test_remote_stalled_registry_times_out() {
	need_registry
	start_fake stall || return 1
	WSBOX_REMOTE_STALL_SEC=1 drive ping "$URL"
	assert_rc 125 || return 1
	assert_err_has "remote $URL: timed out" || return 1
	assert_eq "$(wc -l <"$LOG")" 4 "tries against a stalled registry"
}

test_remote_blob_redirects_are_followed_and_verified() {
	need_registry
	start_fake redirect || return 1
	good=$(printf 'hello blob\n' | sha256sum | cut -c1-64)
	drive get-blob "$URL" "sha256:$good" "$T/blob"
	assert_rc 0 || return 1
	assert_eq "$(cat "$T/blob")" "hello blob" "blob behind a redirect" || return 1
	grep -q '^GET /storage/x' "$LOG" || fail "redirect not followed" || return 1
	drive get-blob "$URL" "sha256:$(printf other | sha256sum | cut -c1-64)" "$T/blob2"
	assert_rc 125 || return 1
	assert_err_has "digest mismatch"
}

test_remote_url_rules() {
	need_registry
	drive ping http://example.com/wsbox/test
	assert_rc 125 || return 1
	assert_err_has "plain http only to a loopback host" || return 1
	drive ping https://127.0.0.1:5000/Upper/Case
	assert_rc 125 || return 1
	assert_err_has "bad repository name"
}
