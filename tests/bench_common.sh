# Shared by the bench scripts and tests/soak.sh (sourced, not run): the image's allocator settings,
# the scratch dir and the processes to stop at exit, loopback ports, the gateway configuration they
# measure, starting the broker, Redis, a gateway and the load tool, and a process's CPU and a wrk
# run.
#
# The caller sets `bin` (the release binaries) and, for `load` and `wrk_run`, `SECONDS_PER_RUN`; for the kafka
# and cluster modes of `gateway_config` and `start_gateway`, it starts the broker and Redis first.

# The allocator settings of the image (deploy/Dockerfile): pages go back to the kernel 100 ms
# after they are freed.
export MIMALLOC_PURGE_DELAY="${MIMALLOC_PURGE_DELAY:-100}" MIMALLOC_ARENA_EAGER_COMMIT="${MIMALLOC_ARENA_EAGER_COMMIT:-0}"

work="$(mktemp -d /tmp/intake-bench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # $1 port: up to 10 s
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "FATAL: nothing listens on 127.0.0.1:$1" >&2; exit 1
}

# Secrets of this run only; the load tool gets the same ones.
TOKEN="bench-token"
AES_KEY="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID="wx12345load000000"
# Runtime workers of every server measured: each its own default (one per core) unless
# BENCH_WORKERS is set (gateway: server.worker_threads; echo and bridge: TOKIO_WORKER_THREADS).
WORKERS="${BENCH_WORKERS:-}"

WEB_SECRET="bench-web-secret"

# $1 mode (journal|kafka|cluster), $2 listen port, $3 ops port -> config path
gateway_config() {
  local cfg="$work/$1.toml"
  local brokers="" cluster=""
  [ "$1" != journal ] && brokers="127.0.0.1:$kafka_port"
  [ "$1" = cluster ] && cluster=$'\n[cluster]\n'"redis_url = \"redis://127.0.0.1:$redis_port\""$'\ninstance_id = "bench-1"'
  cat >"$cfg" <<EOF
[server]
listen = "127.0.0.1:$2"
${WORKERS:+worker_threads = $WORKERS}
[ops]
listen = "127.0.0.1:$3"
[storage]
data_dir = "$work/data-$1-$2"
[kafka]
brokers = "$brokers"
[log]
format = "json"
level = "info"
# The generator's senders are unique but many: per-sender and per-partner limits would measure
# the limiter, not the path. They still run (the check is on the path), they just never refuse.
[limits]
max_in_flight = 100000
sender_per_minute = 100000000
sender_burst = 1000000
partner_per_minute = 100000000
partner_burst = 1000000
[channels.web.partners.baixing]
secret = "$WEB_SECRET"
max_posts = 500
[channels.wechat.accounts.plain]
token = "$TOKEN"
[channels.wechat.accounts.safe]
token = "$TOKEN"
aes_key = "$AES_KEY"
app_id = "$APP_ID"
$cluster
EOF
  echo "$cfg"
}


# The broker of the moment (0: none).
tansu_pid=0

# Starts a fresh tansu (memory engine) on a new port: sets kafka_port and tansu_pid.
start_broker() {
  kafka_port=$(free_port)
  RUST_LOG=warn "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
    --advertised-listener-url "tcp://127.0.0.1:$kafka_port" --storage-engine memory://tansu/ \
    >>"$work/tansu.log" 2>&1 &
  tansu_pid=$!
  pids+=("$tansu_pid")
  wait_port "$kafka_port"
}

# Stops the broker started last, if any. tansu's memory engine keeps every record, and past
# about a gigabyte of them this VM's host steals 8-9 % of its CPU (measured: the echo alone fell
# from 40-53k to 30-32k req/s), which would slow every later measurement, broker or not: so each
# target that uses Kafka gets a fresh one.
stop_broker() {
  [ "$tansu_pid" != 0 ] && { kill "$tansu_pid" 2>/dev/null; wait "$tansu_pid" 2>/dev/null || true; }
  tansu_pid=0
}

# Starts the bare axum echo handler on a new port: sets echo_port and echo_pid.
start_echo() {
  echo_port=$(free_port)
  env ${WORKERS:+TOKIO_WORKER_THREADS=$WORKERS} "$bin/intake-echo" "127.0.0.1:$echo_port" &
  echo_pid=$!
  pids+=("$echo_pid")
  wait_port "$echo_port"
}

# Starts redis-server without persistence on a new port: sets redis_port.
start_redis() {
  redis_port=$(free_port)
  redis-server --port "$redis_port" --save '' --appendonly no >"$work/redis.log" 2>&1 &
  pids+=($!)
  wait_port "$redis_port"
}

# $1 mode (journal|kafka|cluster): starts a gateway on `gateway_config` and sets PORT, OPS and PID;
# its output goes to GATEWAY_LOG (default: a file in the scratch dir). In the Kafka modes it returns
# once the producer reached the broker, so nothing lands in the spool.
# GATEWAY_BIN runs another build, GATEWAY_ENV (space-separated NAME=value) adds to its environment.
start_gateway() {
  PORT=$(free_port) OPS=$(free_port)
  # shellcheck disable=SC2086 # GATEWAY_ENV is a list of words
  env ${GATEWAY_ENV:-} "${GATEWAY_BIN:-$bin/intake-gateway}" --config "$(gateway_config "$1" "$PORT" "$OPS")" \
    >"${GATEWAY_LOG:-$work/gateway-$1-$PORT.log}" 2>&1 &
  PID=$!
  pids+=("$PID")
  wait_port "$PORT"
  [ "$1" = journal ] && return 0
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$OPS/readyz" | grep -q '"sink_up":true' && return 0
    sleep 0.1
  done
}

# Starts intake-bridge (the plain webhook → Kafka bridge) on the broker: sets PORT and PID.
start_bridge() {
  PORT=$(free_port)
  env ${WORKERS:+TOKIO_WORKER_THREADS=$WORKERS} "$bin/intake-bridge" "127.0.0.1:$PORT" \
    "127.0.0.1:$kafka_port" bench.bridge.v1 >"$work/bridge-$PORT.log" 2>&1 &
  PID=$!
  pids+=("$PID")
  wait_port "$PORT"
}

# $1 channel, $2 name, $3 url, $4.. extra flags -> the load tool's JSON report on stdout; runs
# `run_seconds` (default SECONDS_PER_RUN) with this run's secrets.
load() {
  local channel=$1 name=$2 url=$3
  shift 3
  local secret=$TOKEN
  [ "$channel" = web ] && secret=$WEB_SECRET
  INTAKE_LOAD_SECRET="$secret" INTAKE_LOAD_AES_KEY="$AES_KEY" "$bin/intake-load" --json \
    --channel "$channel" --name "$name" --url "$url" --app-id "$APP_ID" \
    --duration "${run_seconds:-$SECONDS_PER_RUN}s" --requests 100000000 "$@"
}

# $1 pid -> its user + system CPU so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# $1 port, $2 connections, $3 seed (new per run: a MsgId seen before would be a duplicate)
#   -> "req/s p99-ms" on stdout; fails unless every answer was a 2xx.
wrk_run() {
  local port=$1 conns=$2 seed=$3 ts nonce=$RANDOM signature out
  # A fresh timestamp per run keeps the signed query inside the gateway's window.
  ts=$(date +%s)
  signature=$(python3 -c 'import hashlib, sys; print(hashlib.sha1("".join(sorted(sys.argv[1:])).encode()).hexdigest())' \
    "$TOKEN" "$ts" "$nonce")
  out=$(WRK_PATH="/hooks/wechat/plain?signature=$signature&timestamp=$ts&nonce=$nonce" WRK_SEED=$seed \
    wrk -t2 -c"$conns" -d"${SECONDS_PER_RUN}s" --latency -s tests/wrk/wechat.lua "http://127.0.0.1:$port")
  python3 -c '
import re, sys
out = sys.argv[1]
if "Non-2xx" in out or "Socket errors" in out:
    sys.exit("FATAL: not every request got a 2xx:\n" + out)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
print(round(rps), round(float(value) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit], 2))
' "$out"
}

# $1 ops port, $2 label: fails when that gateway answered any request as a duplicate, which it
# does without reaching the sink (the message ids of two wrk runs overlapped).
no_duplicates() {
  local duplicates
  duplicates=$(curl -sf "http://127.0.0.1:$1/metrics" | awk '/^intake_requests_total.*outcome="duplicate"/ {n += $2} END {print n + 0}')
  [ "$duplicates" = 0 ] || { echo "FATAL: $2 answered $duplicates duplicates" >&2; exit 1; }
}

# Installs each missing command from the Debian package of the same name (redis-server, wrk).
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 && continue
    echo "==> installing $tool (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"
  done
}

# $1 marker name, $2 text: replaces what README.md holds between <!-- $1:begin --> and
# <!-- $1:end --> (the tables that `--write-readme` regenerates).
write_readme() {
  python3 - "$1" "$2" <<'PY'
import sys
name, table = sys.argv[1], sys.argv[2]
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
text = open("README.md").read()
if begin not in text or end not in text:
    sys.exit(f"FATAL: README.md has no {name}:begin/{name}:end markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open("README.md", "w").write(head + begin + "\n" + table + "\n" + end + tail)
print(f"==> README.md: the table between the {name} markers replaced")
PY
}
