# Exported layers as other tools read them: GNU tar lists a layer with
# UTF-8 names without a warning, and a name that is not UTF-8 still round
# trips (it then needs pax hdrcharset=BINARY).

test_export_is_read_by_gnu_tar_without_warnings() {
	wsx --run r --task t -- sh -c 'mkdir -p d && echo x >d/f && echo y >"é ü" && ln -s f d/l'
	assert_rc 0
	ws runs show r --json --store "$STORE"
	digest=$(ls "$STORE/layers" | head -n 1)
	ws layers export "sha256:$digest" -o "$T/l.tar" --store "$STORE"
	assert_rc 0
	LC_ALL=C.UTF-8 tar -tvf "$T/l.tar" >"$T/list" 2>"$T/tarerr"
	assert_eq "$?" 0 "tar exit"
	assert_eq "$(cat "$T/tarerr")" "" "tar stderr"
	grep -q 'é ü' "$T/list" || fail "UTF-8 name missing from the listing"
}

test_export_of_a_non_utf8_name_round_trips() {
	wsx --run r --task t -- sh -c 'echo x >"$(printf "bad\377name")"'
	assert_rc 0
	digest=$(ls "$STORE/layers" | head -n 1)
	ws layers export "sha256:$digest" -o "$T/l.tar" --store "$STORE"
	assert_rc 0
	ws layers import "$T/l.tar" --store "$STORE"
	assert_rc 0
	assert_out "sha256:$digest"
}
