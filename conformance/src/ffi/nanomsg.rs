//! libnanomsg 1.x: hand-written declarations of the parts of `<nanomsg/nn.h>` that
//! `nanomsg-peer` and `nanomsg-perf` use, and a thin safe layer over them. Every unsafe
//! call of those binaries is here; each passes pointers to live Rust buffers for the
//! duration of the call.
//!
//! Not part of the conformance library: each binary that links libnanomsg (see
//! build.rs) includes this file, so that no other binary refers to `nn_*` symbols
//! (libnng exports them too).

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};

#[path = "dl.rs"]
mod dl;

extern "C" {
    fn nn_socket(domain: c_int, protocol: c_int) -> c_int;
    fn nn_close(s: c_int) -> c_int;
    fn nn_bind(s: c_int, addr: *const c_char) -> c_int;
    fn nn_connect(s: c_int, addr: *const c_char) -> c_int;
    fn nn_send(s: c_int, buf: *const c_void, len: usize, flags: c_int) -> c_int;
    fn nn_recv(s: c_int, buf: *mut c_void, len: usize, flags: c_int) -> c_int;
    fn nn_setsockopt(
        s: c_int,
        level: c_int,
        option: c_int,
        optval: *const c_void,
        optvallen: usize,
    ) -> c_int;
    fn nn_freemsg(msg: *mut c_void) -> c_int;
    fn nn_errno() -> c_int;
    fn nn_device(s1: c_int, s2: c_int) -> c_int;
    fn nn_strerror(errnum: c_int) -> *const c_char;
    // Only libnanomsg has nn_symbol (NNG's compatibility layer does not), so linking
    // and calling it proves which library this is.
    fn nn_symbol(i: c_int, value: *mut c_int) -> *const c_char;
}

/// Domain of cooked sockets.
pub(crate) const AF_SP: c_int = 1;
/// Domain of raw sockets.
pub(crate) const AF_SP_RAW: c_int = 2;
/// Protocol numbers (the SP wire ids).
pub(crate) const NN_PAIR: c_int = 16;
pub(crate) const NN_SUB: c_int = 33;
pub(crate) const NN_PUB: c_int = 32;
pub(crate) const NN_REQ: c_int = 48;
pub(crate) const NN_REP: c_int = 49;
pub(crate) const NN_PUSH: c_int = 80;
pub(crate) const NN_PULL: c_int = 81;
pub(crate) const NN_SURVEYOR: c_int = 98;
pub(crate) const NN_RESPONDENT: c_int = 99;
/// Option levels and options.
pub(crate) const NN_SOL_SOCKET: c_int = 0;
pub(crate) const NN_SNDTIMEO: c_int = 4;
pub(crate) const NN_RCVTIMEO: c_int = 5;
pub(crate) const NN_RECONNECT_IVL: c_int = 6;
pub(crate) const NN_SNDPRIO: c_int = 8;
pub(crate) const NN_RCVMAXSIZE: c_int = 16;
pub(crate) const NN_SUB_SUBSCRIBE: c_int = 1;
pub(crate) const NN_SUB_UNSUBSCRIBE: c_int = 2;
pub(crate) const NN_REQ_RESEND_IVL: c_int = 1;
pub(crate) const NN_SURVEYOR_DEADLINE: c_int = 1;
pub(crate) const NN_TCP: c_int = -3;
pub(crate) const NN_TCP_NODELAY: c_int = 1;
/// Base of nanomsg's own error numbers (`ETERM` is +53, `EFSM` +54).
pub(crate) const NN_HAUSNUMERO: c_int = 156_384_712;

/// A failed call: the `nn_errno` right after it.
pub(crate) type Errno = c_int;

/// `rc`, or the current `nn_errno` when `rc` is negative.
fn check(rc: c_int) -> Result<c_int, Errno> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
}

/// The calling thread's last nanomsg error.
pub(crate) fn errno() -> Errno {
    // SAFETY: nn_errno has no preconditions.
    unsafe { nn_errno() }
}

/// nanomsg's text for an error number.
pub(crate) fn strerror(e: Errno) -> String {
    // SAFETY: nn_strerror returns a static NUL-terminated string for any number.
    unsafe { CStr::from_ptr(nn_strerror(e)) }
        .to_string_lossy()
        .into_owned()
}

/// `nn_socket`.
pub(crate) fn socket(domain: c_int, protocol: c_int) -> Result<c_int, Errno> {
    // SAFETY: plain integer arguments.
    check(unsafe { nn_socket(domain, protocol) })
}

/// `nn_close`.
pub(crate) fn close(s: c_int) -> Result<(), Errno> {
    // SAFETY: a plain integer; closing an unknown socket fails with EBADF.
    check(unsafe { nn_close(s) }).map(drop)
}

/// `nn_bind`.
pub(crate) fn bind(s: c_int, url: &CStr) -> Result<(), Errno> {
    // SAFETY: `url` is a live NUL-terminated string.
    check(unsafe { nn_bind(s, url.as_ptr()) }).map(drop)
}

/// `nn_connect`.
pub(crate) fn connect(s: c_int, url: &CStr) -> Result<(), Errno> {
    // SAFETY: `url` is a live NUL-terminated string.
    check(unsafe { nn_connect(s, url.as_ptr()) }).map(drop)
}

/// `nn_setsockopt` with `value` as the option's bytes.
pub(crate) fn setsockopt(s: c_int, level: c_int, option: c_int, value: &[u8]) -> Result<(), Errno> {
    // SAFETY: `value` is valid for `value.len()` bytes during the call.
    check(unsafe { nn_setsockopt(s, level, option, value.as_ptr().cast(), value.len()) }).map(drop)
}

/// `nn_send` of `buf` (nanomsg copies it).
pub(crate) fn send(s: c_int, buf: &[u8]) -> Result<(), Errno> {
    // SAFETY: `buf` is valid for its length during the call.
    check(unsafe { nn_send(s, buf.as_ptr().cast(), buf.len(), 0) }).map(drop)
}

/// `nn_recv` into `buf`; returns the message size.
pub(crate) fn recv(s: c_int, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is live and writable for its whole length during the call.
    check(unsafe { nn_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0) }).map(|n| n as usize)
}

/// `nn_recv` with `NN_MSG`: a message of any size, copied out of nanomsg's buffer.
pub(crate) fn recv_msg(s: c_int) -> Result<Vec<u8>, Errno> {
    const NN_MSG: usize = usize::MAX;
    let mut msg: *mut c_void = std::ptr::null_mut();
    // SAFETY: with NN_MSG, nn_recv stores a library-allocated buffer pointer in `msg`
    // and returns its length.
    let len = check(unsafe { nn_recv(s, (&mut msg as *mut *mut c_void).cast(), NN_MSG, 0) })?;
    let len = usize::try_from(len).unwrap_or(0);
    let body = if len == 0 || msg.is_null() {
        Vec::new()
    } else {
        // SAFETY: `msg` points to `len` initialised bytes owned by nanomsg.
        unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) }.to_vec()
    };
    if !msg.is_null() {
        // SAFETY: `msg` came from nn_recv with NN_MSG and is freed once.
        unsafe { nn_freemsg(msg) };
    }
    Ok(body)
}

/// `nn_device`: forwards between `a` and `b` until the library terminates.
pub(crate) fn device(a: c_int, b: c_int) -> Result<(), Errno> {
    // SAFETY: plain integer arguments.
    check(unsafe { nn_device(a, b) }).map(drop)
}

/// `nn_symbol(i)`: the `i`-th symbol's name and value, `None` past the last.
pub(crate) fn symbol(i: c_int) -> Option<(String, c_int)> {
    let mut value: c_int = 0;
    // SAFETY: nn_symbol writes one int and returns a static string or NULL.
    let name = unsafe { nn_symbol(i, &mut value) };
    if name.is_null() {
        return None;
    }
    // SAFETY: non-NULL results are NUL-terminated static strings.
    let name = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    Some((name, value))
}

/// The loaded library's ABI version (`current.revision.age`), from its own symbol
/// table; `None` when `nn_symbol` does not list it (then this is not libnanomsg).
pub(crate) fn abi_version() -> Option<String> {
    let mut version = [None; 3];
    let mut i = 0;
    while let Some((name, value)) = symbol(i) {
        i += 1;
        let slot = match name.as_str() {
            "NN_VERSION_CURRENT" => 0,
            "NN_VERSION_REVISION" => 1,
            "NN_VERSION_AGE" => 2,
            _ => continue,
        };
        version[slot] = Some(value);
    }
    let [Some(cur), Some(rev), Some(age)] = version else {
        return None;
    };
    Some(format!("{cur}.{rev}.{age}"))
}

/// The implementation's name when the loaded `libnanomsg.so.5` is sp-rs's drop-in
/// (`sp-capi`, the only one exporting `nn_sp_rs_version`), `None` for libnanomsg itself.
pub(crate) fn sp_rs_version() -> Option<String> {
    type Version = unsafe extern "C" fn() -> *const c_char;
    let f = dl::lookup(c"nn_sp_rs_version")?;
    // SAFETY: `nn_sp_rs_version` is sp-capi's `const char *(void)`.
    let f: Version = unsafe { std::mem::transmute::<*mut c_void, Version>(f) };
    // SAFETY: it returns a static NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr(f()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The shared object `nn_socket` was loaded from.
pub(crate) fn library_file() -> String {
    dl::file_of(nn_socket as *const c_void)
}
