#!/usr/bin/env bash
# Instructions per request, counted by callgrind (stable on a noisy machine, unlike wrk):
# the release checkout binary and the ceiling, each under callgrind, N keep-alive requests per
# endpoint from one client after a warm-up, counters zeroed before and dumped after those N requests.
#
#   checkout/bench/callgrind.sh            # N=2000
#   N=500 KEEP=/tmp/cg checkout/bench/callgrind.sh   # keep the profiles (callgrind_annotate)
#
# Needs valgrind and python3.
set -euo pipefail

N=${N:-2000}
PORT=${PORT:-18090}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --quiet --release -p checkout --bin checkout --example ceiling
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
out=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then echo "port $PORT is taken" >&2; exit 1; fi

# send METHOD PATH COUNT: COUNT requests on one keep-alive connection (oneconn.py).
send() { python3 "$root/checkout/bench/oneconn.py" "$PORT" "$1" "$2" "$3"; }

# measure NAME BINARY: one line per endpoint, "NAME endpoint instructions/request".
measure() {
  local name=$1 bin=$2
  PORT=$PORT DEGRADED_MODE_SSM_PARAMETER= SHUTDOWN_DELAY_MS=0 \
    valgrind --tool=callgrind --callgrind-out-file="$out/$name.%p" \
    "$bin" >/dev/null 2>"$out/$name.log" &
  pid=$!
  local dumps=0
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
  done
  for ep in "GET /healthz" "POST /checkout"; do
    set -- $ep
    send "$1" "$2" 200
    callgrind_control -z "$pid" >/dev/null 2>&1
    send "$1" "$2" "$N"
    callgrind_control -d "${1}${2//\//_}" "$pid" >/dev/null 2>&1
    dumps=$((dumps + 1))
    local file=$out/$name.$pid.$dumps ir
    ir=$(grep -m1 '^summary:' "$file" | awk '{print $2}')
    echo "$name $1 $2 $((ir / N))"
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$file" "$KEEP/$name${1}${2//\//_}.callgrind"; fi
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pid=
}

measure ceiling "$target/release/examples/ceiling"
measure checkout "$target/release/checkout"
