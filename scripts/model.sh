#!/usr/bin/env bash
# Model-checks every standard configuration of sp-model deeper than CI does.
# Usage: scripts/model.sh [MAX_DEPTH]   (default 16; "full" explores each whole space,
#                                        which can take a long time and much memory)
set -euo pipefail
cd "$(dirname "$0")/.."
depth="${1:-16}"
cargo build --release -p sp-model --example check_all
if [ "$depth" = full ]; then
    exec target/release/examples/check_all
fi
exec target/release/examples/check_all "$depth"
