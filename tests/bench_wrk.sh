#!/usr/bin/env bash
# The performance issue's own measurement: `wrk -t2` sending unique signed WeChat plaintext text
# pushes (tests/wrk/wechat.lua) to the bare echo handler and to each target, on this machine.
#
# Why beside tests/bench.sh: intake-load costs 25-35 µs of CPU per request, wrk a few. A load
# tool shares the two cores with the server it drives, so its cost is added to every target's
# and the echo's alike, and that does not cancel in a ratio: it pulls every ratio towards 1
# (echo 1/(T+E) over target 1/(T+G) is (T+E)/(T+G)). With wrk the echo handler runs at close to
# its real speed and the ratios are what the issue's table measured.
#
# Targets: the gateway into the journal, into Kafka, in cluster mode (Redis), and intake-bridge,
# each on a fresh broker. For each, at 64 and 256 connections, BENCH_ROUNDS rounds of
# BENCH_SECONDS each of the echo and the target, the order alternating; the ratio is the
# target's mean over the echo's mean of the same rounds. Prints req/s, wrk's p99 and the CPU
# per request (from /proc) of the target, the broker and the echo.
#
#   tests/bench_wrk.sh                       # about 8 minutes on 2 cores
#   tests/bench_wrk.sh --write-readme        # ... and replaces its table in README.md
#   BENCH_ROUNDS=3 BENCH_SECONDS=5 tests/bench_wrk.sh journal kafka
#
# A benchmark, never a timed test: it fails only when a part is missing or a request was not
# answered 2xx. wrk has no open loop (latency at a fixed rate is tests/bench.sh's).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${BENCH_SECONDS:-8}"
ROUNDS="${BENCH_ROUNDS:-2}"
WRITE_README=false
[ "${1:-}" = "--write-readme" ] && { WRITE_README=true; shift; }
targets=("$@")
[ ${#targets[@]} = 0 ] && targets=(journal kafka cluster bridge)
for t in "${targets[@]}"; do
  case $t in journal | kafka | cluster | bridge) ;; *)
    echo "usage: tests/bench_wrk.sh [--write-readme] [journal|kafka|cluster|bridge]..." >&2
    exit 2
    ;;
  esac
done

# shellcheck source=tests/tansu.sh
source tests/tansu.sh
# shellcheck source=tests/bench_common.sh
source tests/bench_common.sh
need_tools wrk redis-server
echo "==> cargo build --release (gateway, echo baseline, bridge)"
cargo build --release --locked --bin intake-gateway --bin intake-echo --bin intake-bridge
bin="${CARGO_TARGET_DIR:-target}/release"

seed=$((RANDOM % 90 * 1000))
start_echo

results="$work/results.txt"
: >"$results"
for target in "${targets[@]}"; do
  # A fresh broker per Kafka target (stop_broker says why).
  stop_broker
  [ "$target" != journal ] && start_broker
  [ "$target" = cluster ] && [ -z "${redis_port:-}" ] && start_redis
  if [ "$target" = bridge ]; then start_bridge; else start_gateway "$target"; fi
  # Warm-up: connections, the topic's metadata, the first allocations.
  seed=$((seed + 1))
  wrk_run "$PORT" 64 "$seed" >/dev/null
  for conns in 64 256; do
    for round in $(seq "$ROUNDS"); do
      order="echo target"
      [ $((round % 2)) = 0 ] && order="target echo"
      for who in $order; do
        port=$PORT pid=$PID
        [ "$who" = echo ] && port=$echo_port pid=$echo_pid
        s0=$(cpu_ticks "$pid") b0=0
        [ "$tansu_pid" != 0 ] && b0=$(cpu_ticks "$tansu_pid")
        seed=$((seed + 1))
        read -r rps p99 <<<"$(wrk_run "$port" "$conns" "$seed")"
        s1=$(cpu_ticks "$pid") b1=0
        [ "$tansu_pid" != 0 ] && b1=$(cpu_ticks "$tansu_pid")
        echo "$target $conns $round $who $rps $p99 $((s1 - s0)) $((b1 - b0))" >>"$results"
        echo "    $target, $conns connections, round $round, $who: $rps req/s, p99 $p99 ms"
      done
    done
  done
  # Every request must have been new.
  [ "$target" = bridge ] || no_duplicates "$OPS" "the gateway ($target)"
  kill "$PID" 2>/dev/null || true
done

table=$(python3 - "$results" "$SECONDS_PER_RUN" "$(getconf CLK_TCK)" "$ROUNDS" <<'PY'
import collections, os, platform, sys
rows = [l.split() for l in open(sys.argv[1])]
seconds, tick_us, rounds = int(sys.argv[2]), 1e6 / int(sys.argv[3]), sys.argv[4]
model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
print(f"Measured by `tests/bench_wrk.sh` on {os.cpu_count()} cores ({model}), Linux {platform.release()}, "
      f"everything on one machine: wrk 4.1 (`-t2`), gateway, tansu, Redis. Closed loop, {rounds} rounds "
      f"of {seconds} s per connection count, the echo and the target in turn; the ratio is the target's "
      "mean over the echo's mean of the same rounds. WeChat plaintext text pushes, each new.")
names = {"journal": "gateway → journal", "kafka": "gateway → Kafka",
         "cluster": "gateway → Kafka, cluster mode (Redis)", "bridge": "plain bridge → Kafka (intake-bridge)"}
runs = collections.defaultdict(list)
for target, conns, _round, who, rps, p99, server, broker in rows:
    runs[target, int(conns), who].append((int(rps), float(p99), int(server), int(broker)))
mean = lambda xs: sum(xs) / len(xs)
ratio = {}
print("\n| target | conn. | req/s (rounds) | echo req/s (rounds) | ratio to echo | p99 | CPU µs/request: target, broker (echo) |")
print("|---|---|---|---|---|---|---|")
for target in dict.fromkeys(r[0] for r in rows):
    for conns in (64, 256):
        t, e = runs[target, conns, "target"], runs[target, conns, "echo"]
        rps, echo = mean([r[0] for r in t]), mean([r[0] for r in e])
        ratio[target, conns] = rps / echo
        per_request = lambda xs, i: sum(r[i] for r in xs) * tick_us / (mean([r[0] for r in xs]) * seconds * len(xs))
        cpu, echo_cpu = per_request(t, 2), per_request(e, 2)
        broker = f"{per_request(t, 3):.0f}" if target != "journal" else "-"
        spread = lambda xs: "-".join(f"{x:,}" for x in sorted(r[0] for r in xs))
        print(f"| {names[target]} | {conns} | {rps:,.0f} ({spread(t)}) | {echo:,.0f} ({spread(e)}) | "
              f"{ratio[target, conns]:.2f} | {max(r[1] for r in t):.1f} ms | {cpu:.0f}, {broker} ({echo_cpu:.0f}) |")
def over(num, den, label):
    if (num, 64) in ratio and (den, 64) in ratio:
        print(f"\n{label} (ratio over ratio, 64 / 256 conn.): "
              + " / ".join(f"{ratio[num, c] / ratio[den, c]:.2f}" for c in (64, 256)))
over("kafka", "bridge", "Gateway → Kafka over the plain bridge")
over("cluster", "kafka", "Cluster mode over Kafka alone")
PY
)
echo
echo "$table"
$WRITE_README && write_readme bench-wrk "$table"
