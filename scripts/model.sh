#!/usr/bin/env bash
# Model-checks every standard configuration of sp-model deeper than CI does.
# Usage: scripts/model.sh [MAX_DEPTH [NAME_PART]]
#   MAX_DEPTH: default 16; "full" explores each whole space, which can take a long time
#   and much memory. NAME_PART: only the configurations whose name contains it.
set -euo pipefail
cd "$(dirname "$0")/.."
depth="${1:-16}"
cargo build --release -p sp-model --example check_all
exec target/release/examples/check_all "$depth" "${2:-}"
