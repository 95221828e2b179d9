#!/usr/bin/env bash
# Cluster mode against Kafka alone, side by side: the performance issue asks that cluster mode lose
# at most 20 % of the throughput of one gateway into Kafka. `tests/bench.sh` measures each mode
# against the echo handler, minutes apart, so its cluster row compares two ratios taken at
# different moments of a host whose speed drifts by a third; this script compares the two modes
# directly. Two gateways (one on Kafka, one in cluster mode with Redis) run on one fresh broker,
# and the load tool drives them in turn, BENCH_SECONDS each, PAIR_ROUNDS rounds per scenario and
# connection count, the order alternating from round to round. Prints each pair and the ratio.
#
#   tests/bench_pair.sh                      # about 6 minutes on 2 cores
#   PAIR_ROUNDS=5 BENCH_SECONDS=5 tests/bench_pair.sh
#
# A benchmark, never a timed test: it fails only when a part is missing or a request was not
# answered 2xx.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROUNDS="${PAIR_ROUNDS:-3}"

# shellcheck source=tests/tansu.sh
source tests/tansu.sh
command -v redis-server >/dev/null 2>&1 || {
  echo "==> installing redis-server (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
}
echo "==> cargo build --release (gateway, load tool)"
cargo build --release --locked --bin intake-gateway --bin intake-load
bin="${CARGO_TARGET_DIR:-target}/release"
# shellcheck source=tests/bench_common.sh
source tests/bench_common.sh

start_broker
start_redis
start_gateway kafka
kafka_gw=$PORT
start_gateway cluster
cluster_gw=$PORT

# $1 channel, $2 name, $3 port, $4 connections, $5.. flags -> req/s on stdout
rate() {
  local channel=$1 name=$2 port=$3 conns=$4
  shift 4
  load "$channel" "$name" "http://127.0.0.1:$port" --concurrency "$conns" --warmup 2000 "$@" |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = {k: v for k, v in d["status_class"].items() if k != "2xx" and v}
errors = d.get("transport_errors")
if bad or errors:
    sys.exit(f"FATAL: not every request got a 2xx: {bad} {errors}")
print(round(d["throughput_rps"]))'
}

# label|channel|name|flags
scenarios=("WeChat plaintext text|wechat-plain|plain|" "Web push, 1 post|web|baixing|--posts 1")
for s in "${scenarios[@]}"; do
  IFS='|' read -r label channel name flags <<<"$s"
  for conns in 64 256; do
    ratios=()
    for round in $(seq "$ROUNDS"); do
      # shellcheck disable=SC2086
      if [ $((round % 2)) = 1 ]; then
        k=$(rate "$channel" "$name" "$kafka_gw" "$conns" $flags)
        c=$(rate "$channel" "$name" "$cluster_gw" "$conns" $flags)
      else
        c=$(rate "$channel" "$name" "$cluster_gw" "$conns" $flags)
        k=$(rate "$channel" "$name" "$kafka_gw" "$conns" $flags)
      fi
      ratio=$(python3 -c "print(f'{$c / $k:.2f}')")
      ratios+=("$ratio")
      echo "    $label, $conns connections, round $round: Kafka $k req/s, cluster $c req/s, ratio $ratio"
    done
    echo "==> $label, $conns connections: cluster / Kafka ${ratios[*]}"
  done
done
