# The conventions a new user tries first: `wsbox --version`, `wsbox VERB
# --help` (= `wsbox help VERB`, `-h`) on stdout with exit 0, and one line
# naming the verb and its --help for an unknown option (exit 125). Root and
# unprivileged alike.

HELP_VERBS="exec doctor policy rootfs gc push pull attempt"

test_version_names_wsbox_and_the_build() {
	ws --version
	assert_rc 0
	grep -Eqx 'wsbox [0-9A-Za-z][0-9A-Za-z.+~-]*' "$T/out" || fail "version line: $(cat "$T/out")"
	cp "$T/out" "$T/version"
	ws version
	assert_rc 0
	assert_eq "$(cat "$T/out")" "$(cat "$T/version")" "wsbox version"
}

test_verb_help_is_usage_on_stdout() {
	for v in $HELP_VERBS; do
		ws "$v" --help
		assert_rc 0
		assert_eq "$(head -c 12 "$T/out")" "usage: wsbox" "$v --help"
		grep -q "^usage: wsbox $v" "$T/out" || fail "$v --help: $(head -n 1 "$T/out")"
		assert_eq "$(cat "$T/err")" "" "$v --help stderr"
		cp "$T/out" "$T/help"
		ws help "$v"
		assert_rc 0
		cmp -s "$T/out" "$T/help" || fail "wsbox help $v differs from $v --help"
		ws "$v" -h
		assert_rc 0
		cmp -s "$T/out" "$T/help" || fail "$v -h differs from $v --help"
	done
}

test_exec_help_lists_options_and_exit_statuses() {
	ws exec --help
	assert_rc 0
	assert_out_has "  --idmap-base N "
	assert_out_has "  --parent TASK "
	assert_out_has "124 timeout"
	assert_out_has "127 CMD not found"
	# Among wsbox's options, --help wins over a missing command; after
	# CMD it is CMD's own.
	ws exec --store "$STORE" --help
	assert_rc 0
	assert_out_has "usage: wsbox exec"
	assert_no_file "$STORE"
}

test_unknown_option_is_one_line_naming_the_verbs_help() {
	for v in $HELP_VERBS; do
		ws "$v" --frob -- true
		assert_rc 125
		assert_eq "$(cat "$T/err")" "wsbox: $v: unknown option \`--frob\` (see \`wsbox $v --help\`)" "$v --frob"
		assert_eq "$(cat "$T/out")" "" "$v --frob stdout"
	done
}

test_unknown_verb_points_at_help() {
	ws frobnicate
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: unknown verb \`frobnicate\` (see \`wsbox help\`)" stderr
	ws help frobnicate
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: unknown verb \`frobnicate\` (see \`wsbox help\`)" stderr
}
