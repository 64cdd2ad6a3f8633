#!/usr/bin/env bash
# Fuzzes every parser for a bounded time: builds the cargo-fuzz targets in
# fuzz/ and runs each for FUZZ_SECONDS (default 60), failing on the first
# crash, hang or out-of-memory. A failing input is kept under
# fuzz/artifacts/TARGET/ and the log under fuzz/logs/.
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets stable rustc take
# the unstable flags cargo-fuzz passes, and --sanitizer none drops
# AddressSanitizer, whose runtime only nightly ships. Safe Rust is
# bounds-checked anyway; what is lost is the detection of memory errors in
# unsafe code. The targets are built with debug assertions, so integer
# overflow panics as it does in `cargo test`.
#
# Usage, from the repository root:  bash .ci/fuzz.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
# libFuzzer's random seed. A fixed seed makes a run repeat the same inputs in
# the same order, so that CI does not fail at random. Set another seed
# locally to explore further.
FUZZ_SEED=${FUZZ_SEED:-1}
# Memory of the fuzzing process (libFuzzer's RSS limit), and the time one
# input may take before it counts as a hang.
RSS_LIMIT_MB=${RSS_LIMIT_MB:-2048}
INPUT_TIMEOUT_SECONDS=${INPUT_TIMEOUT_SECONDS:-10}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(tflite_reader hw_toml npy_reader)
    if [ -f fuzz/fuzz_targets/mem_dump.rs ]; then
        targets+=(mem_dump)
    fi
fi

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

export RUSTC_BOOTSTRAP=1
build_flags=(--sanitizer none --debug-assertions)
started=$SECONDS
cargo fuzz build "${build_flags[@]}"
echo "fuzz: built the targets in $((SECONDS - started)) s"

mkdir -p fuzz/logs
failed=()
for target in "${targets[@]}"; do
    # New inputs go to a scratch corpus, so the committed seeds stay as
    # they are.
    scratch=fuzz/target/corpus/$target
    mkdir -p "$scratch" "fuzz/artifacts/$target"
    log=fuzz/logs/$target.log
    echo "fuzz: $target for ${FUZZ_SECONDS} s"
    if cargo fuzz run "${build_flags[@]}" "$target" "$scratch" "fuzz/corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" \
        -seed="$FUZZ_SEED" \
        -rss_limit_mb="$RSS_LIMIT_MB" \
        -malloc_limit_mb="$RSS_LIMIT_MB" \
        -timeout="$INPUT_TIMEOUT_SECONDS" \
        -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done' "$log" | sed "s/^/fuzz: $target: /" || true
    else
        echo "fuzz: $target FAILED; last lines of $log:"
        # The failing input is also printed as one long line of bytes.
        tail -n 40 "$log" | cut -c 1-300
        failed+=("$target")
    fi
done

echo "fuzz: total $((SECONDS - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failing targets: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
