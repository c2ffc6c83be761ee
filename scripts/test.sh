#!/usr/bin/env bash
# Runs every test of the workspace on a fresh Debian machine with the Rust toolchain:
# installs what is missing, checks formatting and lints, then runs the test suite.
# Usage: scripts/test.sh            (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the test suite needs: the real C peers of the conformance suite
# (libnanomsg and NNG 1.x, linked by conformance/build.rs) and their command-line tools;
# valgrind for sp-capi's memory check (tests/memcheck.rs).
REQUIRED_DEBS=(libnanomsg-dev libnng-dev nanomsg-utils nng-utils valgrind)
missing=()
for pkg in "${REQUIRED_DEBS[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

for comp in rustfmt clippy; do
    if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$comp"
    fi
done

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> sp-proto without std (no_std with alloc)"
cargo build -p sp-proto --no-default-features --locked
cargo clippy -p sp-proto --no-default-features --features testing --locked -- -D warnings
# A target without an operating system proves no dependency pulls std in; checked only
# when its standard library is already installed (this script installs no toolchains).
if rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
    cargo build -p sp-proto --no-default-features --locked --target thumbv7em-none-eabihf
fi

# A venv of its own under target/ (never the system Python) at target/$1 holding the
# PyPI requirement $3; reused while `import $2` works in it.
py_venv() {
    local dir="${CARGO_TARGET_DIR:-$PWD/target}/$1"
    if ! "$dir/bin/python" -c "import $2" >/dev/null 2>&1; then
        rm -rf "$dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install -q --disable-pip-version-check "$3"
    fi
}

echo "==> Python nanomsg binding in a venv (for sp-capi/tests/python_binding.rs)"
# PyPI's nanomsg 1.0, built from its source against libnanomsg-dev's headers.
py_venv py-nanomsg "nanomsg, _nanomsg_ctypes" nanomsg==1.0
export SP_CAPI_PYTHON="${CARGO_TARGET_DIR:-$PWD/target}/py-nanomsg/bin/python"

echo "==> pynng in a venv (a newer NNG for conformance/tests/pynng.rs)"
# PyPI's pynng 0.9.0, whose wheel bundles NNG 1.11.0.
py_venv py-pynng pynng pynng==0.9.0
export SP_PYNNG_PYTHON="${CARGO_TARGET_DIR:-$PWD/target}/py-pynng/bin/python"

echo "==> cargo test"
# sp-capi's memory checks (valgrind, ASan) and the pynng cells fail instead of skipping
# when a tool is missing.
export SP_CAPI_REQUIRE_TOOLS=1
export PROPTEST_CASES="${PROPTEST_CASES:-256}"
cargo test --workspace --locked

echo "==> fuzz targets, 3 s each under the stable driver (scripts/fuzz.sh runs them longer)"
# Own workspace (fuzz/ is excluded); the same target dir reuses the test build's deps.
# Not --locked: its lockfile follows sp-proto's and sp-net's dependencies, which change
# in the main workspace (whose own lockfile is checked with --locked above).
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" cargo run -q \
    --manifest-path fuzz/Cargo.toml --no-default-features --bin fuzz-stable -- 3

echo "==> soak, 20 s (scripts/soak.sh runs 10 minutes by default)"
SOAK_PROFILE=dev scripts/soak.sh 20

echo "==> loom model checks of the socket core"
# Own cfg name (tokio drops its networking under `--cfg loom`) and own target dir (the
# flag rebuilds every dependency).
RUSTFLAGS="--cfg sp_net_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
    cargo test -p sp-net --lib --profile loom --locked loom

echo "==> cargo package (the publishable crates package cleanly and build from their packages)"
# The verify build compiles each .crate on its own, the workspace's path dependencies
# resolved to the packages made in the same call (about 1.5 minutes on 2 cores).
cargo package -q -p perf-kit -p sp-proto -p sp-net -p sim --allow-dirty --offline

echo "==> cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
