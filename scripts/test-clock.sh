#!/usr/bin/env bash
# The clock guard (issue 21): the unit tests again under clocks other than today's, so that a
# test which only passes on the day it was written fails on that day. Integration tests keep the
# real clock (the engine's clock is real). Each run prints one line; a failing run prints all.
#   +400d                    a time bomb: a date pinned in a test, compared with the wall clock
#   TZ=Pacific/Chatham       UTC+12:45/+13:45: an offset that is not a whole hour, past the date line
#   2028-02-29 23:59:50 in America/St_Johns (UTC-3:30): a leap day's last seconds, local date ≠ UTC date
#   2027-03-14 01:59:50 in America/New_York: the minute before clocks jump forward (DST)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v faketime >/dev/null; then
  echo "clock guard: faketime is not installed (Debian: apt-get install faketime; scripts/test.sh installs it)" >&2
  exit 1
fi
guard() {
  local label="$1"
  shift
  local out
  out="$(mktemp)"
  if "$@" npx tsx test/run.ts --unit >"$out" 2>&1; then
    echo "clock guard ($label): $(tail -n 1 "$out")"
    rm -f "$out"
  else
    cat "$out"
    echo "clock guard ($label): the unit tests fail under this clock — a test depends on the day or zone it runs in" >&2
    rm -f "$out"
    exit 1
  fi
}
guard '+400 days' faketime -f '+400d' env
guard 'TZ=Pacific/Chatham' env TZ=Pacific/Chatham
guard 'leap day, TZ=America/St_Johns' faketime -f '@2028-02-29 23:59:50' env TZ=America/St_Johns
guard 'DST jump, TZ=America/New_York' faketime -f '@2027-03-14 01:59:50' env TZ=America/New_York
