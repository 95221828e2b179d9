#!/usr/bin/env bash
# Two gateways, A and B, side by side under wrk: the way to tell whether a change (a build, an
# allocator setting, a config key) buys anything on a host whose speed drifts by a third within
# minutes. Both run on one broker (in the Kafka modes); wrk drives them in turn, BENCH_SECONDS
# each, BENCH_ROUNDS rounds per connection count, the order alternating from round to round, with
# unique signed WeChat plaintext pushes (tests/wrk/wechat.lua). Prints each round's req/s, p99
# and the CPU per request of the gateway and the broker, then the means.
#
#   BENCH_B_ENV="MIMALLOC_PURGE_DELAY=0" tests/bench_ab.sh journal      # about 4 minutes
#   BENCH_B_BIN=/tmp/new/intake-gateway tests/bench_ab.sh kafka
#   BENCH_A_ENV=... BENCH_B_ENV="INTAKE__KAFKA__COMPRESSION=none" BENCH_ROUNDS=6 tests/bench_ab.sh
#
# BENCH_A_ENV / BENCH_B_ENV: space-separated NAME=value pairs for that gateway's environment (the
# image's allocator settings from bench_common.sh, and INTAKE__* config overrides, apply to both
# unless overridden); BENCH_B_BIN: B's binary (default: the one built here).
# A benchmark, never a timed test: it fails only when a part is missing or a request was not
# answered 2xx, or a gateway answered a duplicate.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-kafka}"
case $MODE in journal | kafka | cluster) ;; *)
  echo "usage: tests/bench_ab.sh [journal|kafka|cluster]" >&2
  exit 2
  ;;
esac
SECONDS_PER_RUN="${BENCH_SECONDS:-6}"
ROUNDS="${BENCH_ROUNDS:-4}"

# shellcheck source=tests/tansu.sh
source tests/tansu.sh
# shellcheck source=tests/bench_common.sh
source tests/bench_common.sh
need_tools wrk redis-server
echo "==> cargo build --release (gateway)"
cargo build --release --locked --bin intake-gateway
bin="${CARGO_TARGET_DIR:-target}/release"

[ "$MODE" != journal ] && start_broker
[ "$MODE" = cluster ] && start_redis
declare -A port pid ops
for v in A B; do
  env_var="BENCH_${v}_ENV" gateway="$bin/intake-gateway"
  [ "$v" = B ] && gateway="${BENCH_B_BIN:-$gateway}"
  GATEWAY_ENV="${!env_var:-}" GATEWAY_BIN=$gateway start_gateway "$MODE"
  port[$v]=$PORT pid[$v]=$PID ops[$v]=$OPS
done

seed=$((RANDOM % 90 * 1000))
for v in A B; do
  seed=$((seed + 1))
  wrk_run "${port[$v]}" 64 "$seed" >/dev/null # warm-up
done
results="$work/ab.txt"
for conns in 64 256; do
  for round in $(seq "$ROUNDS"); do
    order="A B"
    [ $((round % 2)) = 0 ] && order="B A"
    for v in $order; do
      s0=$(cpu_ticks "${pid[$v]}") b0=0
      [ "$tansu_pid" != 0 ] && b0=$(cpu_ticks "$tansu_pid")
      seed=$((seed + 1))
      read -r rps p99 <<<"$(wrk_run "${port[$v]}" "$conns" "$seed")"
      s1=$(cpu_ticks "${pid[$v]}") b1=0
      [ "$tansu_pid" != 0 ] && b1=$(cpu_ticks "$tansu_pid")
      echo "$conns $round $v $rps $p99 $((s1 - s0)) $((b1 - b0))" | tee -a "$results"
    done
  done
done
for v in A B; do no_duplicates "${ops[$v]}" "gateway $v"; done

python3 - "$results" "$SECONDS_PER_RUN" "$(getconf CLK_TCK)" <<'PY'
import collections, sys
seconds, tick_us = int(sys.argv[2]), 1e6 / int(sys.argv[3])
runs = collections.defaultdict(list)
pairs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    conns, rnd, v, rps, p99, server, broker = line.split()
    n = int(rps) * seconds
    runs[int(conns), v].append((int(rps), float(p99), int(server) * tick_us / n, int(broker) * tick_us / n))
    pairs[int(conns), rnd][v] = int(rps)
mean = lambda xs: sum(xs) / len(xs)
print("\nconn.  gateway  req/s (mean)  CPU µs/request: gateway, broker (means)  p99 (max)")
for conns in (64, 256):
    for v in "AB":
        r = runs[conns, v]
        print(f"{conns:5}  {v:7}  {mean([x[0] for x in r]):12,.0f}  {mean([x[2] for x in r]):8.1f}, {mean([x[3] for x in r]):.1f}"
              f"  {max(x[1] for x in r):9.1f} ms")
    wins = sum(1 for (c, _), p in pairs.items() if c == conns and p["B"] > p["A"])
    total = sum(1 for (c, _) in pairs if c == conns)
    print(f"{conns:5}  B over A: {mean([x[0] for x in runs[conns, 'B']]) / mean([x[0] for x in runs[conns, 'A']]):.3f} in req/s, "
          f"higher in {wins} of {total} rounds")
PY
