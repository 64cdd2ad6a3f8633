#!/usr/bin/env bash
# Runs the README's first command exactly as written and checks what a
# newcomer sees: exit status 0, the accuracy the READMEs state, no line
# wider than 100 columns, and a --report whose SVG charts render as images
# (with rsvg-convert, when installed; CI=true makes its absence an error).
#
# usage, from the repository root: bash .ci/digits.sh
set -euo pipefail

stated="353 of 360"
out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT

cargo run --release -- run examples/digits/model.tflite --hw examples/hw/zynq7020.toml \
    > "$out_dir/run.txt"

if ! grep -q "hardware datapath .*$stated .*98.06%" "$out_dir/run.txt"; then
    echo "digits: the run does not print $stated (98.06%) for the hardware datapath" >&2
    cat "$out_dir/run.txt" >&2
    exit 1
fi
widest="$(awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' "$out_dir/run.txt")"
if [ "$widest" -gt 100 ]; then
    echo "digits: the run prints a line of $widest columns; the limit is 100" >&2
    exit 1
fi

cargo run --release -- run examples/digits/model.tflite --hw examples/hw/zynq7020.toml \
    --report "$out_dir/report.md" > /dev/null
for chart in cycles resources accuracy; do
    svg="$out_dir/report-$chart.svg"
    if [ ! -s "$svg" ]; then
        echo "digits: $svg was not written" >&2
        exit 1
    fi
    if command -v rsvg-convert > /dev/null; then
        rsvg-convert "$svg" -o "$out_dir/report-$chart.png"
    elif [ "${CI:-}" = "true" ]; then
        echo "digits: rsvg-convert not found; install librsvg2-bin to check the charts" >&2
        exit 1
    fi
done
echo "digits: README command ok ($stated, widest line $widest columns, 3 charts)"
