#!/bin/sh
# Runs each cmocka unit-test binary given and prints a summary line.
set -u
pass=0; failn=0
for b in "$@"; do
	if "$b"; then pass=$((pass + 1)); else failn=$((failn + 1)); echo "FAIL unit binary $b"; fi
done
echo "unit: $pass passed, $failn failed"
[ $failn -eq 0 ]
