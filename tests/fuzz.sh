#!/usr/bin/env bash
# Builds every cargo-fuzz target of the project and runs each for FUZZ_SECONDS (default 10),
# starting from its seed corpus (the golden fixtures). A crash fails the run and leaves the input
# under <fuzz dir>/artifacts/<target>/. FUZZ_SECONDS=0 skips fuzzing.
#
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 enables them on the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-10}"
if [ "$secs" = 0 ]; then
  echo "==> fuzzing skipped (FUZZ_SECONDS=0)"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
for dir in adapters/*/fuzz tests/fuzz; do
  [ -f "$dir/Cargo.toml" ] || continue
  for target in $(cargo fuzz list --fuzz-dir "$dir"); do
    echo "==> fuzz $dir $target (${secs}s)"
    mkdir -p "$dir/corpus/$target"
    log="$(mktemp)"
    if ! cargo fuzz run --fuzz-dir "$dir" "$target" "$dir/corpus/$target" "$dir/seeds/$target" -- \
      -max_total_time="$secs" -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
      tail -n 60 "$log" >&2
      echo "FUZZ FAILURE: $dir $target; the input is under $dir/artifacts/$target/" >&2
      exit 1
    fi
    grep -E "^Done|stat::number_of_executed_units" "$log" || true
    rm -f "$log"
  done
done
