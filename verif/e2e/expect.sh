# Shared by the CLI test scripts (cli_test.sh, hostile_test.sh); sourced, needs fail().
# expect_error_grep GREP_MODE PATTERN CMD...: CMD exits non-zero (not by a signal) with
# exactly one line on stderr matching PATTERN (grep GREP_MODE: -G basic, -E extended)
# and leaves the output directory out/ empty.
expect_error_grep() {
  local mode=$1 pattern=$2; shift 2
  echo "+ $*"
  "$@" >stdout.txt 2>stderr.txt
  local rc=$?
  cat stdout.txt; cat stderr.txt
  [ $rc -ne 0 ] || fail "exit status 0, expected an error"
  [ $rc -lt 128 ] || fail "killed by signal $((rc - 128))"
  [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected exactly one line on stderr, got $(wc -l <stderr.txt)"
  grep -q "$mode" -- "$pattern" stderr.txt || fail "stderr does not match '$pattern'"
  [ -z "$(ls -A out)" ] || fail "output directory not empty: $(ls -A out)"
  echo "OK: exit $rc, message matches '$pattern'"
}
