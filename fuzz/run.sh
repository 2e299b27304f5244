#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a bounded time.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); runs on the stable
# toolchain with RUSTC_BOOTSTRAP=1 (AddressSanitizer, no nightly needed).
# The committed seeds (fuzz/seeds/TARGET) are copied into the working corpus
# (fuzz/corpus/TARGET, gitignored) first. A crash stops the script with
# libFuzzer's exit status; the input is in fuzz/artifacts/TARGET/.
# Each target's last status line (exec count, coverage) is printed at the end.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decode decap flow identify capture registry_csv registry_xml)
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    echo "+ fuzz $t for ${secs}s"
    log="artifacts/$t.log"
    mkdir -p artifacts
    status=0
    max_len=65536
    case $t in identify | registry_csv | registry_xml) max_len=8192 ;; esac
    cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -max_len="$max_len" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
    tail -n 30 "$log" | grep -E '^(#[0-9]+|stat::number_of_executed_units|Done)' | tail -n 2 || true
    if [ $status -ne 0 ]; then
        tail -n 60 "$log"
        echo "fuzz target $t failed (exit $status); see fuzz/$log and fuzz/artifacts/$t/" >&2
        exit $status
    fi
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    summary+=("$t: ${secs}s, ${execs:-?} execs")
done
printf '%s\n' "${summary[@]}"
