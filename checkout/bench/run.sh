#!/usr/bin/env bash
# Throughput and latency of the release checkout binary under wrk, side by side with a bare axum
# hello-world (examples/ceiling.rs) in the same run. Rounds alternate ceiling and service for
# each endpoint; the table shows medians over the rounds.
#
#   checkout/bench/run.sh                  # 5 rounds x 5 s, 32 connections
#   ROUNDS=3 DURATION=3s CONNECTIONS=64 checkout/bench/run.sh
#
# Needs wrk (apt-get install -y wrk) and python3 (for the medians).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
SERVICE_PORT=${SERVICE_PORT:-18080}
CEILING_PORT=${CEILING_PORT:-18081}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found: apt-get install -y python3" >&2; exit 1; }

root=$(cd "$(dirname "$0")/../.." && pwd)
bench=$root/checkout/bench
cd "$root"
cargo build --quiet --release -p checkout --bin checkout --example ceiling
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Metrics on (always), access log at info to /dev/null, no SSM read, no chaos.
PORT=$SERVICE_PORT DEGRADED_MODE_SSM_PARAMETER= SHUTDOWN_DELAY_MS=0 \
  "$target/release/checkout" >/dev/null 2>&1 &
pids+=($!)
PORT=$CEILING_PORT "$target/release/examples/ceiling" >/dev/null 2>&1 &
pids+=($!)

for port in "$SERVICE_PORT" "$CEILING_PORT"; do
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
done

results=$(mktemp)
# run NAME URL [wrk args...]: one wrk run, one line "NAME rps p50 p99" into $results.
run() {
  local name=$1 url=$2; shift 2
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url")
  if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers in $name:" >&2; echo "$out" >&2; exit 1; fi
  python3 - "$name" "$out" >>"$results" <<'PY'
import re, sys
name, out = sys.argv[1], sys.argv[2]
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
print(name, rps, p50, p99)
PY
}

# Warm-up, not recorded.
for url in "http://127.0.0.1:$SERVICE_PORT/healthz" "http://127.0.0.1:$CEILING_PORT/healthz"; do
  wrk -t1 -c"$CONNECTIONS" -d1s "$url" >/dev/null
done

for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  run ceiling-get "http://127.0.0.1:$CEILING_PORT/healthz"
  run healthz "http://127.0.0.1:$SERVICE_PORT/healthz"
  run ceiling-post "http://127.0.0.1:$CEILING_PORT/checkout" -s "$bench/post.lua"
  run checkout "http://127.0.0.1:$SERVICE_PORT/checkout" -s "$bench/post.lua"
done

python3 - "$results" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$THREADS" <<'PY'
import statistics, sys, collections
path, rounds, duration, conns, threads = sys.argv[1:]
runs = collections.defaultdict(list)
for line in open(path):
    name, rps, p50, p99 = line.split()
    runs[name].append((float(rps), float(p50), float(p99)))
med = {n: tuple(statistics.median(x[i] for x in v) for i in range(3)) for n, v in runs.items()}
print(f"wrk -t{threads} -c{conns} -d{duration} --latency, medians of {rounds} alternating rounds\n")
print("| endpoint | requests/s | p50 (ms) | p99 (ms) | share of ceiling | aim |")
print("|---|---:|---:|---:|---:|---|")
rows = [("GET /healthz (ceiling: hello-world)", "ceiling-get", None, None),
        ("GET /healthz (checkout)", "healthz", "ceiling-get", 0.85),
        ("POST /checkout (ceiling: hello-world)", "ceiling-post", None, None),
        ("POST /checkout (checkout)", "checkout", "ceiling-post", 0.70)]
for label, name, ceil, aim in rows:
    rps, p50, p99 = med[name]
    share = f"{rps / med[ceil][0]:.0%}" if ceil else "100%"
    goal = f">= {aim:.0%}, p99 < 5 ms" if aim else ""
    print(f"| {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {share} | {goal} |")
PY
