#!/usr/bin/env bash
# snrun --info and the shared log file. usage: info_test.sh BIN_DIR BACKEND WORK_DIR
# Checks the identity lines (ID and VERSION values of configs/regs.yaml; snrun itself
# fails when FINGERPRINT differs from the configuration's), the log file DIR/sn.log and
# its line format, $OPENRDU_LOG_DIR, and that errors stay one stderr line.
set -u
bin=$1 backend=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cd "$work"
fail() { echo "FAIL [info $backend]: $*" >&2; exit 1; }

"$bin/snrun" --info --backend "$backend" --config tiny --log-dir logs >info.txt 2>err.txt
rc=$?
cat info.txt err.txt
[ $rc -eq 0 ] || fail "snrun --info exited $rc"
[ -s err.txt ] && fail "snrun --info wrote to stderr"
grep -q "^ID: *0x52445530 ('RDU0')" info.txt || fail "no ID line"
grep -q "^VERSION: *0x00010000 (1.0)" info.txt || fail "no VERSION line"
grep -q "^backend: *$backend\$" info.txt || fail "no backend line"
grep -q "^configuration: *tiny\$" info.txt || fail "no configuration line"
grep -qE "^fingerprint: *0x[0-9a-f]{8}\$" info.txt || fail "no fingerprint line (or it differs from the configuration)"
grep -qE "^grid: *[0-9]+ x [0-9]+ units, [0-9]+ AGCU" info.txt || fail "no grid line"
grep -qE "^PCU: *[0-9]+ lanes x [0-9]+ stages" info.txt || fail "no PCU line"
grep -qE "^PMU: *[0-9]+ bytes" info.txt || fail "no PMU line"
grep -qE "^AGCUs: *[0-9]+" info.txt || fail "no AGCUs line"
grep -qE "^DRAM: *[0-9]+ bytes \([0-9]+ MiB\)" info.txt || fail "no DRAM line"
fp=$(sed -n 's/^fingerprint: *\(0x[0-9a-f]*\)$/\1/p' info.txt)

# Log file: info lines in the shared format.
[ -s logs/sn.log ] || fail "no logs/sn.log"
cat logs/sn.log
grep -qE '^\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\] \[snrun\] \[info\] device info: backend '"$backend"', configuration tiny$' logs/sn.log ||
  fail "logs/sn.log lacks the info line in the format [date time.ms] [snrun] [info] message"

# OPENRDU_LOG_DIR, and errors: one stderr line, also recorded in the file.
OPENRDU_LOG_DIR=envlogs "$bin/snrun" --info --backend "$backend" --config nosuchcfg >out.txt 2>err.txt
rc=$?
cat err.txt
[ $rc -ne 0 ] || fail "bad --config accepted"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "expected one stderr line, got $(wc -l <err.txt)"
grep -q "^snrun: error: .*nosuchcfg" err.txt || fail "error line not in 'snrun: error: ...' form"
grep -qE '^\[[0-9-]+ [0-9:.]+\] \[snrun\] \[error\] .*nosuchcfg' envlogs/sn.log || fail "error not in envlogs/sn.log"
# --info with a model is refused.
"$bin/snrun" --info --backend "$backend" --config tiny x.pef >out.txt 2>err.txt && fail "--info with a PEF accepted"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "expected one stderr line"
echo "OK: snrun --info ($backend, fingerprint $fp), sn.log format, error line"
