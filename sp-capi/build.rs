//! Gives the shared library libnanomsg's soname, so programs linked against it ask for
//! `libnanomsg.so.5` exactly as they do for the C library.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnanomsg.so.5");
    println!("cargo:rerun-if-changed=build.rs");
}
