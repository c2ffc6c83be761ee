#!/usr/bin/env bash
# Soak test: every protocol family over tcp, ipc and inproc for DURATION seconds (default
# 600) with peers killed and restarted at random; fails on a lost message while both peers
# live, on memory growth after warm-up, or on descriptors left open (see
# sp-net/examples/soak.rs for the exact definitions).
# Usage: scripts/soak.sh [DURATION]      SOAK_SEED=N to change the seeded choices;
#        SOAK_PROFILE=dev to reuse a debug build (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-600}"
PROFILE=(--release)
[ "${SOAK_PROFILE:-release}" = dev ] && PROFILE=()
cargo run "${PROFILE[@]}" --locked -q -p sp-net --example soak -- "$DURATION" --seed "${SOAK_SEED:-1}"
