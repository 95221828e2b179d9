#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the Kafka-API test broker if it is missing,
# then format check, clippy with warnings as errors, and every test of the workspace.
#
#   tests/run.sh            # what CI runs (.ci/run calls exactly this)
#
# The broker is tansu 0.6 (Kafka protocol, in-memory storage), found or installed by tests/tansu.sh.
# Each test binary starts its own broker on a free loopback port and stops it when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=tests/tansu.sh
source tests/tansu.sh

# tests/ops_page.rs drives a headless Chromium (CJK font for the screenshot); tests/deploy_check.sh needs promtool.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-zenhei)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# tests/kannel.rs drives a real Kannel (bearerbox, smsbox) and its fake SMSC client.
command -v bearerbox >/dev/null 2>&1 || [ -x /usr/sbin/bearerbox ] || missing+=(kannel)
command -v fakesmsc >/dev/null 2>&1 || [ -x /usr/lib/kannel/test/fakesmsc ] || missing+=(kannel-extras)
# tests/cluster.rs and tests/cluster_harness.rs run replicas behind a real HAProxy sharing a real Redis.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
# tests/cluster_tls.rs makes its test CA and certificates with the openssl command.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# tests/kafka_tls.rs puts stunnel4 in front of the broker; rdkafka links the system OpenSSL.
command -v stunnel4 >/dev/null 2>&1 || missing+=(stunnel4)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> module layers of src/ (no import cycles)"
python3 tests/layers.py
echo "==> deploy kit and OpenAPI"
tests/deploy_check.sh
echo "==> fuzz (bounded)"
tests/fuzz.sh
echo "==> cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
# cargo's last line is a doc-test summary; close with the suite's totals instead.
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "suite: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
