#!/usr/bin/env bash
# Swarm testing until stopped (Ctrl-C): generated scenarios, seed after seed, on one
# simulator layer, with a line per chunk of seeds giving the seeds per minute so far.
# Every failure prints the line that replays it and, with SWARM_SHRINK_OUT=DIR, its
# shrunk scenario file there (see docs/simulation.md, "Swarm testing").
# Usage: scripts/swarm.sh [proto|turmoil] [FIRST_SEED]
#        FIRST_SEED defaults to the current Unix time times 1000 (printed, so a session
#        can be resumed); SWARM_PROFILE=dev reuses a debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
LAYER="${1:-proto}"
SEED="${2:-$(( $(date +%s) * 1000 ))}"
case "$LAYER" in
    proto) CHUNK=500 ;;
    turmoil) CHUNK=5 ;;
    *) echo "usage: scripts/swarm.sh [proto|turmoil] [FIRST_SEED]" >&2; exit 2 ;;
esac
PROFILE=release
[ "${SWARM_PROFILE:-release}" = dev ] && PROFILE=dev
cargo build --profile "$PROFILE" --locked -q -p sim --bin sp-sim
DIR=release
[ "$PROFILE" = dev ] && DIR=debug
BIN="target/$DIR/sp-sim"
SHRINK=()
[ -n "${SWARM_SHRINK_OUT:-}" ] && SHRINK=(--shrink-out "$SWARM_SHRINK_OUT")

FIRST=$SEED
STARTED=$(date +%s)
FAILED=0
summary() {
    local secs=$(( $(date +%s) - STARTED ))
    local ran=$(( SEED - FIRST ))
    echo "swarm ($LAYER): seeds $FIRST..$SEED, $ran run, $FAILED failed, $secs s," \
        "$(( ran * 60 / (secs > 0 ? secs : 1) )) seeds/min"
}
trap 'echo; summary; exit 0' INT TERM
echo "swarm ($LAYER) from seed $FIRST; Ctrl-C to stop"
while true; do
    END=$(( SEED + CHUNK ))
    # Failures are reported, not fatal: the run goes on with the next chunk.
    OUT=$("$BIN" swarm --seeds "$SEED..$END" --layer "$LAYER" "${SHRINK[@]}" || true)
    grep -v -e '^seed [0-9]* ok' -e '^swarm (' <<<"$OUT" || true
    FAILED=$(( FAILED + $(grep -c '^swarm seed .* FAILED' <<<"$OUT" || true) ))
    SEED=$END
    echo "[$(date -u +%H:%M:%S)] $(summary)"
done
