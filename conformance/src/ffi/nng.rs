//! NNG 1.x: hand-written declarations of the parts of `<nng/nng.h>` that `nng-peer` and
//! `nng-perf` use, and a thin safe layer over them. Every unsafe call of those binaries
//! is here; each passes pointers to live Rust buffers for the duration of the call.
//!
//! Not part of the conformance library: each binary that links libnng (see build.rs)
//! includes this file, so that no other binary refers to NNG's symbols.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};

use sp_proto::SocketType;

#[path = "dl.rs"]
mod dl;

/// `nng_socket`, `nng_dialer` and `nng_listener` are structs holding one u32 id.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handle {
    id: u32,
}

type Open = unsafe extern "C" fn(*mut Handle) -> c_int;

extern "C" {
    fn nng_version() -> *const c_char;
    fn nng_strerror(err: c_int) -> *const c_char;
    fn nng_close(s: Handle) -> c_int;
    fn nng_listen(s: Handle, url: *const c_char, l: *mut Handle, flags: c_int) -> c_int;
    fn nng_dial(s: Handle, url: *const c_char, d: *mut Handle, flags: c_int) -> c_int;
    fn nng_send(s: Handle, data: *mut c_void, size: usize, flags: c_int) -> c_int;
    fn nng_recv(s: Handle, data: *mut c_void, size: *mut usize, flags: c_int) -> c_int;
    fn nng_free(ptr: *mut c_void, size: usize);
    fn nng_recvmsg(s: Handle, msg: *mut *mut c_void, flags: c_int) -> c_int;
    fn nng_sendmsg(s: Handle, msg: *mut c_void, flags: c_int) -> c_int;
    fn nng_msg_free(msg: *mut c_void);
    fn nng_socket_set(s: Handle, name: *const c_char, v: *const c_void, sz: usize) -> c_int;
    fn nng_socket_set_bool(s: Handle, name: *const c_char, v: bool) -> c_int;
    fn nng_socket_set_ms(s: Handle, name: *const c_char, ms: i32) -> c_int;
    fn nng_socket_set_size(s: Handle, name: *const c_char, size: usize) -> c_int;
    fn nng_pair0_open(s: *mut Handle) -> c_int;
    fn nng_pair1_open(s: *mut Handle) -> c_int;
    fn nng_pair1_open_poly(s: *mut Handle) -> c_int;
    fn nng_req0_open(s: *mut Handle) -> c_int;
    fn nng_rep0_open(s: *mut Handle) -> c_int;
    fn nng_push0_open(s: *mut Handle) -> c_int;
    fn nng_pull0_open(s: *mut Handle) -> c_int;
    fn nng_pub0_open(s: *mut Handle) -> c_int;
    fn nng_sub0_open(s: *mut Handle) -> c_int;
    fn nng_surveyor0_open(s: *mut Handle) -> c_int;
    fn nng_respondent0_open(s: *mut Handle) -> c_int;
    fn nng_bus0_open(s: *mut Handle) -> c_int;
    fn nng_pair0_open_raw(s: *mut Handle) -> c_int;
    fn nng_pair1_open_raw(s: *mut Handle) -> c_int;
    fn nng_req0_open_raw(s: *mut Handle) -> c_int;
    fn nng_rep0_open_raw(s: *mut Handle) -> c_int;
    fn nng_push0_open_raw(s: *mut Handle) -> c_int;
    fn nng_pull0_open_raw(s: *mut Handle) -> c_int;
    fn nng_pub0_open_raw(s: *mut Handle) -> c_int;
    fn nng_sub0_open_raw(s: *mut Handle) -> c_int;
    fn nng_surveyor0_open_raw(s: *mut Handle) -> c_int;
    fn nng_respondent0_open_raw(s: *mut Handle) -> c_int;
    fn nng_bus0_open_raw(s: *mut Handle) -> c_int;
    fn nng_tls_config_alloc(cfg: *mut *mut c_void, mode: c_int) -> c_int;
    fn nng_tls_config_free(cfg: *mut c_void);
    fn nng_device(s1: Handle, s2: Handle) -> c_int;
    fn nng_listener_create(l: *mut Handle, s: Handle, url: *const c_char) -> c_int;
    fn nng_listener_set_string(l: Handle, name: *const c_char, v: *const c_char) -> c_int;
    fn nng_listener_start(l: Handle, flags: c_int) -> c_int;
    fn nng_dialer_create(d: *mut Handle, s: Handle, url: *const c_char) -> c_int;
    fn nng_dialer_set_string(d: Handle, name: *const c_char, v: *const c_char) -> c_int;
    fn nng_dialer_start(d: Handle, flags: c_int) -> c_int;
    fn nng_ctx_open(c: *mut Handle, s: Handle) -> c_int;
    fn nng_ctx_close(c: Handle) -> c_int;
    fn nng_ctx_send(c: Handle, aio: *mut c_void);
    fn nng_ctx_recv(c: Handle, aio: *mut c_void);
    fn nng_aio_alloc(aio: *mut *mut c_void, cb: *const c_void, arg: *mut c_void) -> c_int;
    fn nng_aio_free(aio: *mut c_void);
    fn nng_aio_wait(aio: *mut c_void);
    fn nng_aio_result(aio: *mut c_void) -> c_int;
    fn nng_aio_set_timeout(aio: *mut c_void, ms: i32);
    fn nng_aio_set_msg(aio: *mut c_void, msg: *mut c_void);
    fn nng_aio_get_msg(aio: *mut c_void) -> *mut c_void;
    fn nng_msg_alloc(msg: *mut *mut c_void, size: usize) -> c_int;
    fn nng_msg_body(msg: *mut c_void) -> *mut c_void;
    fn nng_msg_len(msg: *const c_void) -> usize;
}

/// Receive into a buffer NNG allocates.
const NNG_FLAG_ALLOC: c_int = 1;
/// Dial in the background (retrying) instead of failing when no one listens yet.
pub(crate) const NNG_FLAG_NONBLOCK: c_int = 2;

/// A failed call: NNG's error number.
pub(crate) type Errno = c_int;

fn check(rc: c_int) -> Result<(), Errno> {
    if rc == 0 {
        Ok(())
    } else {
        Err(rc)
    }
}

/// NNG's text for an error number.
pub(crate) fn strerror(e: Errno) -> String {
    // SAFETY: nng_strerror returns a static NUL-terminated string for any number.
    unsafe { CStr::from_ptr(nng_strerror(e)) }
        .to_string_lossy()
        .into_owned()
}

/// The library's version string.
pub(crate) fn version() -> String {
    // SAFETY: nng_version returns a static string.
    unsafe { CStr::from_ptr(nng_version()) }
        .to_string_lossy()
        .into_owned()
}

/// The shared object `nng_version` was loaded from.
pub(crate) fn library_file() -> String {
    dl::file_of(nng_version as *const c_void)
}

/// Opens a socket of `socket_type`, raw or cooked (`nng_<proto>_open[_raw]`).
pub(crate) fn open(socket_type: SocketType, raw: bool) -> Result<Handle, Errno> {
    let open: Open = if raw {
        match socket_type {
            SocketType::Pair0 => nng_pair0_open_raw,
            SocketType::Pair1 => nng_pair1_open_raw,
            SocketType::Req => nng_req0_open_raw,
            SocketType::Rep => nng_rep0_open_raw,
            SocketType::Push => nng_push0_open_raw,
            SocketType::Pull => nng_pull0_open_raw,
            SocketType::Pub => nng_pub0_open_raw,
            SocketType::Sub => nng_sub0_open_raw,
            SocketType::Surveyor => nng_surveyor0_open_raw,
            SocketType::Respondent => nng_respondent0_open_raw,
            SocketType::Bus => nng_bus0_open_raw,
        }
    } else {
        match socket_type {
            SocketType::Pair0 => nng_pair0_open,
            SocketType::Pair1 => nng_pair1_open,
            SocketType::Req => nng_req0_open,
            SocketType::Rep => nng_rep0_open,
            SocketType::Push => nng_push0_open,
            SocketType::Pull => nng_pull0_open,
            SocketType::Pub => nng_pub0_open,
            SocketType::Sub => nng_sub0_open,
            SocketType::Surveyor => nng_surveyor0_open,
            SocketType::Respondent => nng_respondent0_open,
            SocketType::Bus => nng_bus0_open,
        }
    };
    let mut s = Handle { id: 0 };
    // SAFETY: the open functions write one handle.
    check(unsafe { open(&mut s) })?;
    Ok(s)
}

/// Opens a cooked PAIR v1 socket in polyamorous mode (`nng_pair1_open_poly`).
pub(crate) fn open_pair1_poly() -> Result<Handle, Errno> {
    let mut s = Handle { id: 0 };
    // SAFETY: writes one handle.
    check(unsafe { nng_pair1_open_poly(&mut s) })?;
    Ok(s)
}

/// `nng_close`.
pub(crate) fn close(s: Handle) -> Result<(), Errno> {
    // SAFETY: a plain id; closing an unknown socket fails with NNG_ECLOSED.
    check(unsafe { nng_close(s) })
}

/// `nng_listen` without keeping the listener.
pub(crate) fn listen(s: Handle, url: &CStr) -> Result<(), Errno> {
    // SAFETY: `url` is NUL-terminated; a NULL listener pointer is allowed.
    check(unsafe { nng_listen(s, url.as_ptr(), std::ptr::null_mut(), 0) })
}

/// `nng_dial` without keeping the dialer.
pub(crate) fn dial(s: Handle, url: &CStr, flags: c_int) -> Result<(), Errno> {
    // SAFETY: `url` is NUL-terminated; a NULL dialer pointer is allowed.
    check(unsafe { nng_dial(s, url.as_ptr(), std::ptr::null_mut(), flags) })
}

/// Sets string options on a listener or dialer about to start.
type SetString = unsafe extern "C" fn(Handle, *const c_char, *const c_char) -> c_int;

fn set_strings(h: Handle, set: SetString, pairs: &[(&CStr, &CStr)]) -> Result<(), Errno> {
    for (name, value) in pairs {
        // SAFETY: both strings are NUL-terminated and alive for the call.
        check(unsafe { set(h, name.as_ptr(), value.as_ptr()) })?;
    }
    Ok(())
}

/// Creates a listener at `url`, sets string `options` on it, and starts it.
pub(crate) fn start_listener(
    s: Handle,
    url: &CStr,
    options: &[(&CStr, &CStr)],
) -> Result<(), Errno> {
    let mut l = Handle { id: 0 };
    // SAFETY: `url` is NUL-terminated; nng writes one handle.
    check(unsafe { nng_listener_create(&mut l, s, url.as_ptr()) })?;
    set_strings(l, nng_listener_set_string, options)?;
    // SAFETY: `l` is the listener just created.
    check(unsafe { nng_listener_start(l, 0) })
}

/// Creates a dialer to `url`, sets string `options` on it, and starts it with `flags`.
pub(crate) fn start_dialer(
    s: Handle,
    url: &CStr,
    options: &[(&CStr, &CStr)],
    flags: c_int,
) -> Result<(), Errno> {
    let mut d = Handle { id: 0 };
    // SAFETY: `url` is NUL-terminated; nng writes one handle.
    check(unsafe { nng_dialer_create(&mut d, s, url.as_ptr()) })?;
    set_strings(d, nng_dialer_set_string, options)?;
    // SAFETY: `d` is the dialer just created.
    check(unsafe { nng_dialer_start(d, flags) })
}

/// `nng_socket_set`: an option given as bytes.
pub(crate) fn set_bytes(s: Handle, name: &CStr, value: &[u8]) -> Result<(), Errno> {
    // SAFETY: `name` and `value` are valid for the call; nng copies the value.
    check(unsafe { nng_socket_set(s, name.as_ptr(), value.as_ptr().cast(), value.len()) })
}

/// `nng_socket_set_bool`.
pub(crate) fn set_bool(s: Handle, name: &CStr, value: bool) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and alive for the call.
    check(unsafe { nng_socket_set_bool(s, name.as_ptr(), value) })
}

/// `nng_socket_set_ms`.
pub(crate) fn set_ms(s: Handle, name: &CStr, ms: i32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and alive for the call.
    check(unsafe { nng_socket_set_ms(s, name.as_ptr(), ms) })
}

/// `nng_socket_set_size`.
pub(crate) fn set_size(s: Handle, name: &CStr, size: usize) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and alive for the call.
    check(unsafe { nng_socket_set_size(s, name.as_ptr(), size) })
}

/// `nng_send` of `buf` (without `NNG_FLAG_ALLOC`, nng copies it).
pub(crate) fn send(s: Handle, buf: &[u8]) -> Result<(), Errno> {
    // SAFETY: without NNG_FLAG_ALLOC nng copies `size` bytes from the buffer and never
    // writes to it.
    check(unsafe { nng_send(s, buf.as_ptr() as *mut c_void, buf.len(), 0) })
}

/// `nng_recv` into `buf`; returns the message size.
pub(crate) fn recv(s: Handle, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut size = buf.len();
    // SAFETY: `buf` is live and writable for `size` bytes during the call.
    check(unsafe { nng_recv(s, buf.as_mut_ptr().cast(), &mut size, 0) })?;
    Ok(size)
}

/// `nng_recv` with `NNG_FLAG_ALLOC`: a message of any size, copied out of NNG's buffer.
pub(crate) fn recv_alloc(s: Handle) -> Result<Vec<u8>, Errno> {
    let mut data: *mut c_void = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: with NNG_FLAG_ALLOC, nng_recv stores a buffer it allocated in `data` and
    // its length in `size`.
    check(unsafe {
        nng_recv(
            s,
            (&mut data as *mut *mut c_void).cast(),
            &mut size,
            NNG_FLAG_ALLOC,
        )
    })?;
    let body = if size == 0 || data.is_null() {
        Vec::new()
    } else {
        // SAFETY: `data` points to `size` initialised bytes.
        unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) }.to_vec()
    };
    if !data.is_null() {
        // SAFETY: freed once, with the size nng_recv reported.
        unsafe { nng_free(data, size) };
    }
    Ok(body)
}

/// `nng_device`: forwards between `a` and `b` until one of them closes.
pub(crate) fn device(a: Handle, b: Handle) -> Result<(), Errno> {
    // SAFETY: the handles are plain ids.
    check(unsafe { nng_device(a, b) })
}

/// `nng_device` with `s` alone (the second socket left unset): a reflector, for sockets
/// that are their own peer (PAIR, BUS).
pub(crate) fn device_reflector(s: Handle) -> Result<(), Errno> {
    device(s, Handle { id: 0 })
}

/// Sends every message received on the raw socket `s` straight back, header and all,
/// until a call fails. (`nng_device` reflects only sockets that are their own peer,
/// such as PAIR and BUS; for REP it answers EINVAL.)
pub(crate) fn reflect(s: Handle) -> Result<(), Errno> {
    loop {
        let mut msg: *mut c_void = std::ptr::null_mut();
        // SAFETY: nng_recvmsg stores a message it allocated in `msg`.
        check(unsafe { nng_recvmsg(s, &mut msg, 0) })?;
        // SAFETY: on success nng_sendmsg takes the message over; on failure it stays
        // ours and is freed once.
        let rc = unsafe { nng_sendmsg(s, msg, 0) };
        if rc != 0 {
            // SAFETY: `msg` is still ours (see above).
            unsafe { nng_msg_free(msg) };
            return Err(rc);
        }
    }
}

/// Answers every request on the REP context `c` with the request itself, moving the
/// message from the receive back into the send (no copy), until a call fails: NNG's
/// own way to serve many requests at once (one context per request in progress).
pub(crate) fn ctx_echo(c: Handle) -> Result<(), Errno> {
    // NNG_DURATION_INFINITE: the server waits as long as the run lasts.
    let aio = Aio::new(-1)?;
    loop {
        // SAFETY: the aio is live and idle; we wait for the receive to complete.
        unsafe {
            nng_ctx_recv(c, aio.0);
            nng_aio_wait(aio.0);
        }
        // SAFETY: the operation has completed.
        check(unsafe { nng_aio_result(aio.0) })?;
        // SAFETY: a successful receive left one message in the aio; it goes straight
        // back into it for the send, and we wait for that to complete.
        let rc = unsafe {
            let msg = nng_aio_get_msg(aio.0);
            nng_aio_set_msg(aio.0, msg);
            nng_ctx_send(c, aio.0);
            nng_aio_wait(aio.0);
            nng_aio_result(aio.0)
        };
        if rc != 0 {
            // SAFETY: a failed send leaves the message with the caller; freed once.
            unsafe { nng_msg_free(nng_aio_get_msg(aio.0)) };
            return Err(rc);
        }
    }
}

/// Whether this libnng was built with TLS (a TLS configuration can be allocated).
pub(crate) fn has_tls() -> bool {
    let mut cfg: *mut c_void = std::ptr::null_mut();
    // SAFETY: writes one pointer; mode 0 is NNG_TLS_MODE_CLIENT.
    let rc = unsafe { nng_tls_config_alloc(&mut cfg, 0) };
    if rc == 0 && !cfg.is_null() {
        // SAFETY: `cfg` was just allocated and is released once.
        unsafe { nng_tls_config_free(cfg) };
    }
    rc == 0
}

/// `nng_ctx_open` on socket `s`.
pub(crate) fn ctx_open(s: Handle) -> Result<Handle, Errno> {
    let mut c = Handle { id: 0 };
    // SAFETY: writes one handle.
    check(unsafe { nng_ctx_open(&mut c, s) })?;
    Ok(c)
}

/// `nng_ctx_close`.
pub(crate) fn ctx_close(c: Handle) -> Result<(), Errno> {
    // SAFETY: a plain id.
    check(unsafe { nng_ctx_close(c) })
}

/// An `nng_aio` without a callback, freed on drop (after any operation has completed:
/// every use waits for it).
struct Aio(*mut c_void);

impl Aio {
    fn new(timeout_ms: i32) -> Result<Self, Errno> {
        let mut aio: *mut c_void = std::ptr::null_mut();
        // SAFETY: writes one pointer; no callback.
        check(unsafe { nng_aio_alloc(&mut aio, std::ptr::null(), std::ptr::null_mut()) })?;
        // SAFETY: `aio` was just allocated.
        unsafe { nng_aio_set_timeout(aio, timeout_ms) };
        Ok(Self(aio))
    }
}

impl Drop for Aio {
    fn drop(&mut self) {
        // SAFETY: allocated by `new`, no operation pending (each one was waited for).
        unsafe { nng_aio_free(self.0) };
    }
}

/// `nng_ctx_send` of a copy of `body`, waiting up to `timeout_ms` for it to complete.
pub(crate) fn ctx_send(c: Handle, body: &[u8], timeout_ms: i32) -> Result<(), Errno> {
    let aio = Aio::new(timeout_ms)?;
    let mut msg: *mut c_void = std::ptr::null_mut();
    // SAFETY: writes one pointer to a message with a body of `body.len()` bytes.
    check(unsafe { nng_msg_alloc(&mut msg, body.len()) })?;
    // SAFETY: the body has exactly `body.len()` writable bytes; the message goes to the
    // aio, which owns it once the send succeeds; on failure it is handed back and freed.
    unsafe {
        std::ptr::copy_nonoverlapping(body.as_ptr(), nng_msg_body(msg).cast(), body.len());
        nng_aio_set_msg(aio.0, msg);
        nng_ctx_send(c, aio.0);
        nng_aio_wait(aio.0);
    }
    // SAFETY: the operation has completed.
    let rc = unsafe { nng_aio_result(aio.0) };
    if rc != 0 {
        // SAFETY: a failed send leaves the message with the caller.
        unsafe { nng_msg_free(nng_aio_get_msg(aio.0)) };
    }
    check(rc)
}

/// `nng_ctx_recv`, waiting up to `timeout_ms`; returns a copy of the body.
pub(crate) fn ctx_recv(c: Handle, timeout_ms: i32) -> Result<Vec<u8>, Errno> {
    let aio = Aio::new(timeout_ms)?;
    // SAFETY: the aio is live; we wait for the operation before reading its result.
    unsafe {
        nng_ctx_recv(c, aio.0);
        nng_aio_wait(aio.0);
    }
    // SAFETY: the operation has completed.
    check(unsafe { nng_aio_result(aio.0) })?;
    // SAFETY: a successful receive leaves one message in the aio, which we own now.
    let msg = unsafe { nng_aio_get_msg(aio.0) };
    // SAFETY: the body holds `nng_msg_len` initialised bytes; the message is freed once.
    let body = unsafe {
        let len = nng_msg_len(msg);
        let body = if len == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(nng_msg_body(msg).cast::<u8>(), len).to_vec()
        };
        nng_msg_free(msg);
        body
    };
    Ok(body)
}
