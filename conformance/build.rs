//! Links `nanomsg-peer` and `nanomsg-perf` to libnanomsg, `nng-peer` and `nng-perf` to
//! libnng, each binary to exactly one
//! library. When a library is not installed the binary is still built, without it, and
//! fails at start-up saying how to install it (so the conformance tests fail with that
//! message instead of the whole workspace failing to link).

use std::process::Command;

/// Whether the C compiler's linker can find `lib<name>.so` (`cc -print-file-name` answers
/// with a path only when it finds the file). Without a `cc` we assume it can.
fn linker_finds(name: &str) -> bool {
    let file = format!("lib{name}.so");
    match Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()))
        .arg(format!("-print-file-name={file}"))
        .output()
    {
        Ok(out) => {
            let answer = String::from_utf8_lossy(&out.stdout);
            answer.trim() != file
        }
        Err(_) => true,
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    // Where the linker looks for a libnanomsg or libnng of the user's own (see
    // docs/running-conformance.md): a change relinks the peers.
    println!("cargo:rerun-if-env-changed=LIBRARY_PATH");
    println!("cargo:rustc-check-cfg=cfg(nanomsg_missing)");
    println!("cargo:rustc-check-cfg=cfg(nng_missing)");
    for (bins, lib, cfg, deb) in [
        (
            ["nanomsg-peer", "nanomsg-perf"],
            "nanomsg",
            "nanomsg_missing",
            "libnanomsg-dev",
        ),
        (["nng-peer", "nng-perf"], "nng", "nng_missing", "libnng-dev"),
    ] {
        let bin = bins.join(" and ");
        if linker_finds(lib) {
            for bin in bins {
                println!("cargo:rustc-link-arg-bin={bin}=-l{lib}");
            }
        } else {
            println!("cargo:rustc-cfg={cfg}");
            println!(
                "cargo:warning=lib{lib}.so not found: {bin} is built without it and the \
                 conformance tests will fail; install it with `apt-get install {deb}`"
            );
        }
    }
}
