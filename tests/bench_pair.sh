#!/usr/bin/env bash
# The gateway on Kafka alone against one other target, side by side:
#   cluster  the gateway in cluster mode (Redis): the performance issue asks that it lose at most
#            20 % of the throughput of Kafka alone;
#   bridge   intake-bridge, the plain webhook → Kafka bridge the gateway should stay ahead of.
# `tests/bench.sh` measures each target against the echo handler, minutes apart, so a comparison
# of two of its rows is the quotient of two ratios taken at different moments of a host whose speed
# drifts by a third; this script compares the two directly. Both run on one fresh broker (and
# Redis), and the load tool drives them in turn, BENCH_SECONDS each, PAIR_ROUNDS rounds per
# scenario and connection count, the order alternating from round to round. Prints each pair with
# the req/s and the CPU per request (from /proc) of each server and of the broker, and the ratios
# (cluster mode over Kafka alone; the gateway over the bridge).
#
#   tests/bench_pair.sh                      # cluster mode; about 6 minutes on 2 cores
#   tests/bench_pair.sh bridge
#   PAIR_ROUNDS=5 BENCH_SECONDS=5 tests/bench_pair.sh
#
# A benchmark, never a timed test: it fails only when a part is missing or a request was not
# answered 2xx.
set -euo pipefail
cd "$(dirname "$0")/.."

OTHER="${1:-cluster}"
case $OTHER in cluster | bridge) ;; *)
  echo "usage: tests/bench_pair.sh [cluster|bridge]" >&2
  exit 2
  ;;
esac
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROUNDS="${PAIR_ROUNDS:-3}"

# shellcheck source=tests/tansu.sh
source tests/tansu.sh
# shellcheck source=tests/bench_common.sh
source tests/bench_common.sh
need_tools redis-server
echo "==> cargo build --release (gateway, bridge, load tool)"
cargo build --release --locked --bin intake-gateway --bin intake-bridge --bin intake-load
bin="${CARGO_TARGET_DIR:-target}/release"

start_broker
start_redis
start_gateway kafka
kafka_gw=$PORT kafka_pid=$PID
if [ "$OTHER" = cluster ]; then start_gateway cluster; else start_bridge; fi
other_port=$PORT other_pid=$PID
what="cluster mode / Kafka alone"
[ "$OTHER" = bridge ] && what="gateway (Kafka alone) / bridge"

# $1 channel, $2 name, $3 port, $4 pid, $5 connections, $6.. flags
#   -> "req/s server-µs/request broker-µs/request" on stdout
rate() {
  local channel=$1 name=$2 port=$3 pid=$4 conns=$5 report s0 s1 b0 b1
  shift 5
  s0=$(cpu_ticks "$pid") b0=$(cpu_ticks "$tansu_pid")
  report=$(load "$channel" "$name" "http://127.0.0.1:$port" --concurrency "$conns" --warmup 2000 "$@")
  s1=$(cpu_ticks "$pid") b1=$(cpu_ticks "$tansu_pid")
  # The ticks include the warm-up's requests; at 2,000 of several hundred thousand that is noise.
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
bad = {k: v for k, v in d["status_class"].items() if k != "2xx" and v}
errors = d.get("transport_errors")
if bad or errors:
    sys.exit(f"FATAL: not every request got a 2xx: {bad} {errors}")
n, tick_us = d["requests"], 1e6 / int(sys.argv[4])
print(round(d["throughput_rps"]), round(int(sys.argv[2]) * tick_us / n, 1), round(int(sys.argv[3]) * tick_us / n, 1))
' "$report" $((s1 - s0)) $((b1 - b0)) "$(getconf CLK_TCK)"
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
        read -r k k_us k_broker <<<"$(rate "$channel" "$name" "$kafka_gw" "$kafka_pid" "$conns" $flags)"
        read -r o o_us o_broker <<<"$(rate "$channel" "$name" "$other_port" "$other_pid" "$conns" $flags)"
      else
        read -r o o_us o_broker <<<"$(rate "$channel" "$name" "$other_port" "$other_pid" "$conns" $flags)"
        read -r k k_us k_broker <<<"$(rate "$channel" "$name" "$kafka_gw" "$kafka_pid" "$conns" $flags)"
      fi
      # Cluster mode over Kafka alone; the gateway (Kafka alone) over the bridge.
      if [ "$OTHER" = cluster ]; then ratio=$(python3 -c "print(f'{$o / $k:.2f}')"); else ratio=$(python3 -c "print(f'{$k / $o:.2f}')"); fi
      ratios+=("$ratio")
      echo "    $label, $conns connections, round $round: Kafka alone $k req/s ($k_us µs, broker $k_broker µs per request), $OTHER $o req/s ($o_us µs, broker $o_broker µs), ratio $ratio"
    done
    echo "==> $label, $conns connections: $what ${ratios[*]}"
  done
done
