#!/usr/bin/env bash
# Does the gateway slow down as its state grows? One process (A) takes SOAK_REQUESTS unique
# WeChat requests into the embedded journal (each a new id in the dedup index and a new sender);
# then A and a fresh process (B: new data dir each round) are measured in turn, 10 s each, three
# rounds. Alternating cancels the machine's own drift, which on a shared VM is larger than the
# effect looked for. Prints both rates per round and A's resident set (VmRSS, VmHWM).
#
#   tests/soak.sh                        # 1 million requests, about 3 minutes on 2 cores
#   SOAK_REQUESTS=5000000 tests/soak.sh  # the dedup index's default bound
#
# A benchmark, never a timed test: it fails only when a part is missing or a request fails.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> cargo build --release (gateway, load tool)"
cargo build --release --locked --bin intake-gateway --bin intake-load
bin="${CARGO_TARGET_DIR:-target}/release"
# shellcheck source=tests/bench_common.sh
source tests/bench_common.sh
drive() {
  INTAKE_LOAD_SECRET="$TOKEN" "$bin/intake-load" --json --channel wechat-plain --name plain \
    --url "http://127.0.0.1:$1" --concurrency 64 "${@:2}"
}
rate() {
  drive "$1" --duration 10s --requests 100000000 |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["throughput_rps"], "p99", d["latency_ms"]["p99"])'
}
rss() { awk '/VmRSS|VmHWM/ {printf "%s %d MiB  ", $1, $2/1024}' "/proc/$1/status"; echo; }

# Each gateway on the journal with a data dir of its own (start_gateway sets PORT, OPS and PID); a
# million requests' log lines would only fill the disk.
GATEWAY_LOG=/dev/null
start_gateway journal
pa=$PORT ops_a=$OPS ia=$PID
drive "$pa" --duration 900s --requests "${SOAK_REQUESTS:-1000000}" >"$work/bulk.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("bulk", d["requests"], d["throughput_rps"], d["status_class"])' "$work/bulk.json"
echo "A after bulk: $(rss "$ia")"
for r in 1 2 3; do
  start_gateway journal
  pb=$PORT ib=$PID
  echo "round $r soaked A: $(rate "$pa")"
  echo "round $r fresh  B: $(rate "$pb")"
  kill "$ib"
  wait "$ib" 2>/dev/null || true
  rm -rf "$work/data-journal-$pb"
done
echo "A at the end: $(rss "$ia")"
curl -s "http://127.0.0.1:$ops_a/metrics" | grep -E '^intake_requests_total' | head -3
