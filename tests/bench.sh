#!/usr/bin/env bash
# The results table of README "Performance", measured in one run on this machine.
#
#   tests/bench.sh                     # prints the table (about 25 minutes on 2 cores)
#   tests/bench.sh --write-readme      # ... and replaces the table in README.md
#   BENCH_SECONDS=5 tests/bench.sh     # shorter runs (noisier)
#
# Every row is driven by the same load generator (intake-load, closed loop) against, in turn:
# the bare axum echo handler (intake-echo: same axum, tokio and runtime flavour, reads the body,
# answers its length), the gateway on its embedded journal, the gateway on Kafka (tansu on the
# same machine, acks=all, idempotent, 2xx only after the delivery report), a plain webhook →
# Kafka bridge on the same broker (intake-bridge: axum + rdkafka, 2xx after the delivery report,
# nothing else; the gateway should stay ahead of it while doing far more), and the gateway on
# Kafka in cluster mode (Redis on the same machine). Ratios are to the echo handler of the same
# scenario measured in alternation with the target (BENCH_ROUNDS rounds of echo, then target), so
# the generator's own cost and the drift of a shared host's speed cancel out. Latency at
# half load is an open-loop run (--rate, coordinated-omission corrected) at half the closed-loop
# maximum of that row; in brackets the p99 of the tool's own lag in starting requests (when that
# is large, the tool could not keep the schedule and the latency is partly its own). Peak RSS is
# the gateway's VmHWM at the end of its row.
#
# Benchmarks, never timed tests: nothing here fails on a slow machine; it fails only when a part
# is missing or a request was not answered 2xx.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${BENCH_SECONDS:-15}"
# Closed-loop figures are ROUNDS alternations of echo and target, each half a run long.
ROUNDS="${BENCH_ROUNDS:-2}"
ROUND_SECONDS=$(python3 -c "import sys; print(max(2, round(int(sys.argv[1]) / int(sys.argv[2]))))" "$SECONDS_PER_RUN" "$ROUNDS")
WRITE_README=false
[ "${1:-}" = "--write-readme" ] && WRITE_README=true

# shellcheck source=tests/tansu.sh
source tests/tansu.sh
# shellcheck source=tests/bench_common.sh
source tests/bench_common.sh
need_tools redis-server

echo "==> cargo build --release (gateway, echo baseline, load tool)"
cargo build --release --locked --bin intake-gateway --bin intake-echo --bin intake-bridge --bin intake-load
bin="${CARGO_TARGET_DIR:-target}/release"

start_redis

results="$work/results.jsonl"
: >"$results"
# $1 scenario label, $2 target label, $3 pid (for RSS; 0 = none), $4 channel, $5 name, $6 url, $7.. flags
#
# The host's speed drifts by a third within minutes (a shared VM), so a target is never compared
# with an echo measured minutes away: each closed-loop figure is ROUNDS rounds of the echo and
# then the target, same scenario and connections, and the ratio is the target's mean over the
# echo's mean of the same rounds. The echo rows themselves are the pass at the start.
measure() {
  local scenario=$1 target=$2 pid=$3 channel=$4 name=$5 url=$6
  shift 6
  local runs="$work/runs.jsonl" rss=0 round conns rate
  : >"$runs"
  for conns in 64 256; do
    for round in $(seq "$ROUNDS"); do
      if [ "$target" != echo ]; then
        printf '{"kind":"echo","conns":%s,"run":%s}\n' "$conns" \
          "$(run_seconds=$ROUND_SECONDS load "$channel" "$name" "http://127.0.0.1:$echo_port" --concurrency "$conns" --warmup 2000 "$@")" >>"$runs"
      fi
      printf '{"kind":"target","conns":%s,"run":%s}\n' "$conns" \
        "$(run_seconds=$ROUND_SECONDS load "$channel" "$name" "$url" --concurrency "$conns" --warmup 2000 "$@")" >>"$runs"
    done
  done
  rate=$(python3 - "$runs" <<'PY'
import json, sys
rps = [r["run"]["throughput_rps"] for r in map(json.loads, open(sys.argv[1])) if r["kind"] == "target" and r["conns"] == 64]
print(max(1, int(sum(rps) / len(rps) / 2)))
PY
)
  printf '{"kind":"open","conns":256,"run":%s}\n' "$(load "$channel" "$name" "$url" --concurrency 256 --rate "$rate" "$@")" >>"$runs"
  [ "$pid" != 0 ] && rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  python3 - "$scenario" "$target" "$rss" "$runs" >>"$results" <<'PY'
import json, sys
scenario, target, rss = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = [json.loads(l) for l in open(sys.argv[4])]
for r in runs:
    bad = {k: v for k, v in r["run"]["status_class"].items() if k != "2xx" and v}
    if bad or r["run"].get("transport_errors"):
        sys.exit(f"FATAL: {scenario}/{target}: not every request got a 2xx: {bad} {r['run'].get('transport_errors')}")
def pick(kind, conns):
    return [r["run"] for r in runs if r["kind"] == kind and r["conns"] == conns]
def mean(xs):
    return sum(xs) / len(xs) if xs else 0
def rps(kind, conns):
    return [x["throughput_rps"] for x in pick(kind, conns)]
open_ = pick("open", 256)[0]
print(json.dumps({"scenario": scenario, "target": target, "rss_kib": rss,
                  "rps": mean(rps("target", 64)), "rps_runs": rps("target", 64),
                  "echo_rps": mean(rps("echo", 64)), "echo_rps_runs": rps("echo", 64),
                  "p99_ms": max(x["latency_ms"]["p99"] for x in pick("target", 64)),
                  "rps_256": mean(rps("target", 256)), "rps_256_runs": rps("target", 256),
                  "echo_rps_256": mean(rps("echo", 256)), "echo_rps_256_runs": rps("echo", 256),
                  "p99_256_ms": max(x["latency_ms"]["p99"] for x in pick("target", 256)),
                  "half_rate": open_["throughput_rps"], "half_p99_ms": open_["latency_ms"]["p99"],
                  "half_lag_p99_ms": (open_.get("send_lag_ms") or {}).get("p99", 0)}))
PY
  echo "    $scenario / $target: $(tail -1 "$results")"
}

start_echo

# scenario label, channel, account/partner name, extra flags
scenarios=(
  "WeChat plaintext text|wechat-plain|plain|"
  "WeChat safe mode (AES)|wechat-safe|safe|"
  "Web push, 1 post|web|baixing|--posts 1"
  "Web push, batch of 10 posts|web|baixing|--posts 10"
)
for mode in echo journal kafka bridge cluster; do
  # A fresh broker for each target that uses Kafka (stop_broker says why).
  case $mode in kafka | bridge | cluster) stop_broker; start_broker ;; esac
  if [ "$mode" = echo ]; then
    url="http://127.0.0.1:$echo_port" pid=0
  elif [ "$mode" = bridge ]; then
    start_bridge
    pid=$PID url="http://127.0.0.1:$PORT"
  else
    start_gateway "$mode"
    pid=$PID url="http://127.0.0.1:$PORT"
  fi
  echo "==> $mode"
  for s in "${scenarios[@]}"; do
    IFS='|' read -r label channel name flags <<<"$s"
    # shellcheck disable=SC2086
    measure "$label" "$mode" "$pid" "$channel" "$name" "$url" $flags
  done
  [ "$mode" != echo ] && kill "$pid" 2>/dev/null || true
done

table=$(WORKERS="$WORKERS" ROUNDS="$ROUNDS" ROUND_SECONDS="$ROUND_SECONDS" python3 - "$results" <<'PY'
import json, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {"echo": "bare axum echo", "journal": "gateway → journal", "kafka": "gateway → Kafka",
         "bridge": "plain Rust bridge → Kafka (intake-bridge)",
         "cluster": "gateway → Kafka, cluster mode (Redis)"}
def ratio(r, conns=64):
    """The target over the echo of the same rounds (1 for the echo rows)."""
    if r["target"] == "echo":
        return 1.0
    t, e = (r["rps"], r["echo_rps"]) if conns == 64 else (r["rps_256"], r["echo_rps_256"])
    return t / e if e else 0
def spread(xs):
    return f"{min(xs):,.0f}-{max(xs):,.0f}" if len(xs) > 1 else f"{xs[0]:,.0f}"
# This VM's host stalls now and then for a minute, and a round caught in it runs far below the
# other round of its pair: one run had an echo round at 12.9k beside 41.9k, and another pair's
# echo at 11.0k and 16.9k (against 33.5k at the start) made the web push into Kafka 0.73x. Such
# figures are marked, not dropped or re-run: the table shows what was measured, and a marked goal
# needs another run.
DISTURBED = 1.3
def disturbed(r, conns=64):
    """True when the rounds of a figure (the target's or the echo's) differ by over 30 %."""
    keys = ("rps_runs", "echo_rps_runs") if conns == 64 else ("rps_256_runs", "echo_rps_256_runs")
    runs = [r.get(k) or [] for k in keys]
    return any(xs and min(xs) > 0 and max(xs) / min(xs) > DISTURBED for xs in runs)
def mark(r, conns=64):
    return "†" if disturbed(r, conns) else ""
cpu = "?"
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    pass
rounds, secs = os.environ["ROUNDS"], os.environ["ROUND_SECONDS"]
print(f"Measured by `tests/bench.sh` on {os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
      f"everything on one machine: load tool, gateway, tansu, Redis. Runtime workers per server (gateway, echo, "
      f"bridge): {os.environ.get('WORKERS') or 'one per core'}. Closed loop, 64 connections unless noted: "
      f"{rounds} rounds of {secs} s, each the echo and then the target, and the ratio is the target's mean "
      f"over the echo's mean of the same rounds (the echo beside it in brackets).")
print()
print("| scenario | target | req/s (rounds) | ratio to echo (echo req/s) | p99 | req/s at 256 conn. | ratio (echo) | p99 at half load (open loop; the tool's own lag p99) | peak RSS |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    rss = f'{r["rss_kib"] / 1024:.0f} MiB' if r["rss_kib"] else "-"
    echo = "" if r["target"] == "echo" else f' ({r["echo_rps"]:,.0f})'
    echo256 = "" if r["target"] == "echo" else f' ({r["echo_rps_256"]:,.0f})'
    print(f'| {r["scenario"]} | {names[r["target"]]} | {r["rps"]:,.0f} ({spread(r["rps_runs"])}) | {ratio(r):.2f}{mark(r)}{echo} '
          f'| {r["p99_ms"]:.1f} ms | {r["rps_256"]:,.0f} | {ratio(r, 256):.2f}{mark(r, 256)}{echo256} '
          f'| {r["half_p99_ms"]:.1f} ms at {r["half_rate"]:,.0f}/s ({r["half_lag_p99_ms"]:.1f} ms) | {rss} |')
if any(disturbed(r) or disturbed(r, 256) for r in rows):
    print()
    print(f"† The rounds of this figure (the target's or the echo's beside it) differ by more than {DISTURBED - 1:.0%}: "
          "the host stalled during the pair, so the ratio is not to be trusted; run the bench again.")
# The goals of the performance issue, read off the rows above. Targets measured minutes apart are
# compared through their ratios to the echo beside each, not through raw req/s.
def row(scenario, target):
    return next((r for r in rows if r["scenario"] == scenario and r["target"] == target), None)
print()
print("| target | WeChat plaintext: ratio (64 / 256 conn.) | web, 1 post: ratio (64 / 256 conn.) | safe mode / plaintext | p99 at half load (plaintext, web) |")
print("|---|---|---|---|---|")
for target in ("journal", "kafka", "cluster"):
    plain, web = row("WeChat plaintext text", target), row("Web push, 1 post", target)
    safe = row("WeChat safe mode (AES)", target)
    if not (plain and web and safe):
        continue
    print(f'| {names[target]} | {ratio(plain):.2f}{mark(plain)} / {ratio(plain, 256):.2f}{mark(plain, 256)} '
          f'| {ratio(web):.2f}{mark(web)} / {ratio(web, 256):.2f}{mark(web, 256)} '
          f'| {ratio(safe) / ratio(plain):.2f}{mark(safe) or mark(plain)} | {plain["half_p99_ms"]:.1f} ms, {web["half_p99_ms"]:.1f} ms |')
def over(target, other, label):
    out = []
    for scenario in ("WeChat plaintext text", "WeChat safe mode (AES)", "Web push, 1 post", "Web push, batch of 10 posts"):
        g, b = row(scenario, target), row(scenario, other)
        if g and b and ratio(b) and ratio(b, 256):
            out.append(f"{scenario} {ratio(g) / ratio(b):.2f}{mark(g) or mark(b)} "
                       f"/ {ratio(g, 256) / ratio(b, 256):.2f}{mark(g, 256) or mark(b, 256)}")
    if out:
        print()
        print(label + "; ".join(out) + ".")
# "Ahead of the plain bridge at every concurrency", and "cluster mode at most 20 % below".
over("kafka", "bridge", "Gateway → Kafka over the plain bridge (ratio over ratio, 64 / 256 conn.): ")
over("cluster", "kafka", "Cluster mode over gateway → Kafka (ratio over ratio, 64 / 256 conn.): ")
PY
)
echo
echo "$table"
$WRITE_README && write_readme bench "$table"
