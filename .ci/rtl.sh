#!/usr/bin/env bash
# The reference RTL checks: installs Verilator, Icarus Verilog and Yosys
# from the distribution's packages when they are missing, then runs the
# four RTL test files and prints how long each took.
#
#   bash .ci/rtl.sh                 install, then run the RTL tests
#   bash .ci/rtl.sh --install-only  install only (cargo test runs them later)
#
# With CI=true a missing tool is installed with apt-get (sudo when not
# root); elsewhere the script only reports it. FXSIM_NO_SKIP=1 makes the
# tests fail instead of skipping when a tool or the shared models are
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v verilator >/dev/null || missing+=(verilator)
command -v iverilog >/dev/null || missing+=(iverilog)
command -v yosys >/dev/null || missing+=(yosys)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "${CI:-}" = "true" ]; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq "${missing[@]}"
    else
        echo "rtl.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]}) or set CI=true" >&2
        exit 1
    fi
fi
verilator --version
iverilog -V 2>/dev/null | head -n 1
yosys -V

if [ "${1:-}" = "--install-only" ]; then
    exit 0
fi

export FXSIM_NO_SKIP="${FXSIM_NO_SKIP:-1}"
cargo test --no-run --test rtl_datapaths --test rtl_wide_export --test rtl_verilator --test rtl_yosys
for test in rtl_datapaths rtl_wide_export rtl_verilator rtl_yosys; do
    start=$(date +%s)
    cargo test --test "$test" -- --nocapture
    echo "rtl.sh: $test took $(( $(date +%s) - start )) s"
done
