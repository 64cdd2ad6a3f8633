#!/usr/bin/env bash
# Design-space sweep checks: the 1024-point person_detect sweep run whole
# and as 4 shards (merged bytes must equal), grid errors, invalid points,
# the Pareto front against its definition, and the grouped tiling cost
# against the tile-by-tile sum. `cargo test` in .ci/run runs the same tests;
# this script runs them alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export FXSIM_NO_SKIP="${FXSIM_NO_SKIP:-1}"
cargo test --test sweep
cargo test --lib -- sweep:: timing::tile_cost
