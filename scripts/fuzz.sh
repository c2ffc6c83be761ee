#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60).
# With cargo-fuzz installed (`cargo install cargo-fuzz`), targets run under libFuzzer with
# AddressSanitizer; cargo-fuzz needs -Zsanitizer, so on a stable toolchain this script sets
# RUSTC_BOOTSTRAP=1. Without cargo-fuzz (or with FUZZ_STABLE=1), the same targets run under
# the stable mutation driver (fuzz/src/bin/fuzz-stable.rs), seeded by FUZZ_SEED.
# New corpus entries go to fuzz/artifacts/corpus-<target>/ (the committed seeds stay small);
# crashes to fuzz/artifacts/<target>/. Exits non-zero on the first crash.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"

if [ -z "${FUZZ_STABLE:-}" ] && cargo fuzz --version >/dev/null 2>&1; then
    targets=$(cargo fuzz list)
    for t in $targets; do
        echo "==> libFuzzer: $t (${SECONDS_PER_TARGET} s)"
        mkdir -p "fuzz/artifacts/corpus-$t"
        RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "fuzz/artifacts/corpus-$t" "fuzz/corpus/$t" -- \
            -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1
    done
else
    echo "==> stable fuzz driver (${SECONDS_PER_TARGET} s per target)"
    cargo run --release --locked --manifest-path fuzz/Cargo.toml --no-default-features \
        --bin fuzz-stable -- "$SECONDS_PER_TARGET" --seed "${FUZZ_SEED:-$RANDOM}"
fi
