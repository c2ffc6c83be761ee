//! A memory-safe drop-in for `libnanomsg.so.5`: nanomsg 1.1.5's C API (`nn.h` and the
//! protocol headers) over sp-net's sockets.
//!
//! The crate builds `libnanomsg.so` with the soname `libnanomsg.so.5`, so a program
//! linked against the C library runs on this one with `LD_LIBRARY_PATH` pointing at it
//! (see `docs/c-api.md`). It holds no protocol logic: a socket table maps nanomsg's small
//! integers to [`sp_net::BlockingSocket`]s, and the functions map arguments, options and
//! errors. Every pointer from C is checked (null is `EFAULT`; a message pointer this
//! library did not hand out is `EFAULT`), and no panic crosses into C.

// The C ABI needs `#[no_mangle]` exports and raw-pointer access at the boundary, which the
// workspace's `unsafe_code = "deny"` forbids. Every `unsafe` block sits at that boundary,
// with a `// SAFETY:` comment: in the exported functions and the helpers that read C's
// pointers (this file, `sendmsg.rs`, `symbol.rs`, `poll.rs`), in `errno.rs` (the
// thread's errno slot, libc's strerror) and in `fds.rs` (eventfd) and `poll.rs` (poll(2)).
// Everything else works on Rust copies.
#![allow(unsafe_code)]

mod addr;
mod chunks;
mod device;
mod errno;
mod fds;
mod msg;
pub mod msghdr;
pub mod options;
pub mod poll;
mod sendmsg;
mod stats;
pub mod symbol;
mod table;
mod wait;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use bytes::Bytes;
use sp_net::{BlockingSocket, Message, SocketType};

use errno::{errno_of, set_errno};
pub use errno::{EFSM, ETERM, NN_HAUSNUMERO};
use table::{Block, Entry};
use wait::Signals;

pub use device::nn_device;
pub use poll::{nn_poll, NnPollfd};
pub use sendmsg::{nn_cmsg_nxthdr_, nn_recvmsg, nn_sendmsg};
pub use stats::nn_get_statistic;
pub use symbol::{nn_symbol, nn_symbol_info};

/// Cooked sockets (`nn_socket`'s domain).
pub const AF_SP: c_int = 1;
/// Raw sockets, for devices.
pub const AF_SP_RAW: c_int = 2;
/// `nn_send`/`nn_recv` flag: fail with `EAGAIN` instead of waiting.
pub const NN_DONTWAIT: c_int = 1;
/// `nn_send`/`nn_recv` length meaning "the buffer is a message from `nn_allocmsg`".
pub const NN_MSG: usize = usize::MAX;

/// Runs `f`, turning an `Err(errno)` into errno plus `failed`, and a panic into `EIO`
/// plus `failed`: nothing unwinds into C.
fn ffi<T: Copy>(failed: T, f: impl FnOnce() -> Result<T, c_int>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_errno(e);
            failed
        }
        Err(_) => {
            set_errno(libc::EIO);
            failed
        }
    }
}

fn socket_type(protocol: c_int) -> Option<SocketType> {
    Some(match protocol {
        16 => SocketType::Pair0,
        32 => SocketType::Pub,
        33 => SocketType::Sub,
        48 => SocketType::Req,
        49 => SocketType::Rep,
        80 => SocketType::Push,
        81 => SocketType::Pull,
        98 => SocketType::Surveyor,
        99 => SocketType::Respondent,
        112 => SocketType::Bus,
        _ => return None,
    })
}

/// Creates a socket: `domain` is `AF_SP` or `AF_SP_RAW`, `protocol` one of `NN_PAIR`,
/// `NN_PUB`, `NN_SUB`, `NN_REQ`, `NN_REP`, `NN_PUSH`, `NN_PULL`, `NN_SURVEYOR`,
/// `NN_RESPONDENT`, `NN_BUS`. Returns the socket's number, or -1 with errno
/// `EAFNOSUPPORT`, `EINVAL` (unknown protocol), `EMFILE` or `ETERM`.
#[no_mangle]
pub extern "C" fn nn_socket(domain: c_int, protocol: c_int) -> c_int {
    ffi(-1, || {
        if table::terminated() {
            return Err(ETERM);
        }
        if domain != AF_SP && domain != AF_SP_RAW {
            return Err(libc::EAFNOSUPPORT);
        }
        let ty = socket_type(protocol).ok_or(libc::EINVAL)?;
        table::insert(|s| {
            let sock = if domain == AF_SP {
                BlockingSocket::new(ty)
            } else {
                BlockingSocket::new_raw(ty)
            };
            let opts = options::NnOptions::new(s);
            sock.set_options(opts.socket_options(sock.options()));
            let fds = fds::Fds::new(sock.as_async());
            Entry {
                sock,
                domain,
                protocol,
                opts: Mutex::new(opts),
                endpoints: Mutex::default(),
                fds,
            }
        })
    })
}

/// Closes socket `s` (after flushing for up to `NN_LINGER`); calls blocked on it in other
/// threads fail with `EBADF`. -1 with `EBADF` if there is no such socket.
#[no_mangle]
pub extern "C" fn nn_close(s: c_int) -> c_int {
    ffi(-1, || {
        let e = table::remove(s)?;
        e.fds.close();
        e.sock.close();
        Ok(0)
    })
}

/// nanomsg's longest address, with its NUL (`NN_SOCKADDR_MAX`).
const SOCKADDR_MAX: usize = 128;

/// The address C passed, as UTF-8: `EINVAL` for null (as nanomsg) or bad UTF-8,
/// `ENAMETOOLONG` from `NN_SOCKADDR_MAX` bytes on.
///
/// # Safety
/// `addr` is null or points to a NUL-terminated string that stays valid for the call.
unsafe fn address<'a>(addr: *const c_char) -> Result<&'a str, c_int> {
    if addr.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-null, and the caller (nn_bind/nn_connect's contract) guarantees a
    // NUL-terminated string that outlives this call.
    let c = unsafe { CStr::from_ptr(addr) };
    if c.to_bytes().len() >= SOCKADDR_MAX {
        return Err(libc::ENAMETOOLONG);
    }
    c.to_str().map_err(|_| libc::EINVAL)
}

fn add_endpoint(s: c_int, addr: &str, bind: bool) -> Result<c_int, c_int> {
    let e = table::get(s)?;
    let ipv4only = e.options().ipv4only();
    let url = addr::endpoint_url(addr, ipv4only, bind)?;
    let ep = if bind {
        e.sock.listen(url)
    } else {
        e.sock.dial(url)
    }
    .map_err(|err| errno_of(&err))?;
    let id = e
        .endpoints
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .add(ep);
    Ok(id)
}

/// Binds socket `s` to `addr` (`tcp://`, `ipc://`, `inproc://`, `ws://`...). Returns the
/// endpoint id for `nn_shutdown`, or -1 with errno (`EADDRINUSE`, `EINVAL`,
/// `EPROTONOSUPPORT`, `ENAMETOOLONG`, `ENODEV`, `EBADF`, `ETERM`).
///
/// # Safety
/// `addr` is null or a NUL-terminated string valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn nn_bind(s: c_int, addr: *const c_char) -> c_int {
    ffi(-1, || {
        // SAFETY: forwarded from this function's own contract.
        let a = unsafe { address(addr) }?;
        add_endpoint(s, a, true)
    })
}

/// Connects socket `s` to `addr`, in the background with reconnects. Returns the
/// endpoint id, or -1 with errno as for `nn_bind`.
///
/// # Safety
/// `addr` is null or a NUL-terminated string valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn nn_connect(s: c_int, addr: *const c_char) -> c_int {
    ffi(-1, || {
        // SAFETY: forwarded from this function's own contract.
        let a = unsafe { address(addr) }?;
        add_endpoint(s, a, false)
    })
}

/// Removes endpoint `how` (an id from `nn_bind`/`nn_connect`) from socket `s`. -1 with
/// `EINVAL` for an unknown id, `EBADF` for an unknown socket.
#[no_mangle]
pub extern "C" fn nn_shutdown(s: c_int, how: c_int) -> c_int {
    ffi(-1, || {
        let e = table::get(s)?;
        let ep = e
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(how)
            .ok_or(libc::EINVAL)?;
        ep.close();
        Ok(0)
    })
}

fn length(n: usize) -> Result<c_int, c_int> {
    c_int::try_from(n).map_err(|_| libc::EINVAL)
}

/// How `flags` (`NN_DONTWAIT` or 0) let a call of the C caller block: a caught signal
/// ends its wait with `EINTR`, as in libnanomsg.
fn block(flags: c_int) -> Block {
    if flags & NN_DONTWAIT != 0 {
        Block::Never
    } else {
        Block::Wait(Signals::End)
    }
}

fn send_on(e: &Entry, body: Bytes, flags: c_int) -> Result<(), c_int> {
    e.send(Message::new(body), block(flags))
        .map_err(|err| errno_of(&err))
}

/// Sends `len` bytes from `buf`; with `len == NN_MSG`, `buf` points to a message pointer
/// from `nn_allocmsg`, which this call frees on success (on failure the caller still owns
/// it). Returns the number of bytes sent, or -1 with errno (`EAGAIN` with `NN_DONTWAIT`,
/// `ETIMEDOUT`, `EINTR` (a caught signal ended the wait), `EFSM`, `ENOTSUP`, `EBADF`,
/// `ETERM`, `EFAULT`, `EINVAL`).
///
/// # Safety
/// `buf` is null or points to `len` readable bytes (or, with `NN_MSG`, to a readable
/// `void *`).
#[no_mangle]
pub unsafe extern "C" fn nn_send(s: c_int, buf: *const c_void, len: usize, flags: c_int) -> c_int {
    ffi(-1, || {
        let e = table::get(s)?;
        if len == NN_MSG {
            if buf.is_null() {
                return Err(libc::EFAULT);
            }
            // SAFETY: non-null, and with NN_MSG the caller passes the address of a
            // `void *` (read unaligned, so any address the caller gives is fine).
            let m = unsafe { buf.cast::<*mut c_void>().read_unaligned() };
            let body = msg::copy(m).ok_or(libc::EFAULT)?;
            let n = length(body.len())?;
            send_on(&e, body, flags)?;
            drop(msg::take(m));
            return Ok(n);
        }
        let n = length(len)?;
        let body = if len == 0 {
            Bytes::new()
        } else if buf.is_null() {
            return Err(libc::EFAULT);
        } else {
            // SAFETY: non-null, and the caller guarantees `len` readable bytes at `buf`
            // for the duration of the call; they are copied before returning.
            chunks::copy(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) })
        };
        send_on(&e, body, flags)?;
        Ok(n)
    })
}

/// Receives a message into `buf` (at most `len` bytes copied; the message's full length
/// is returned). With `len == NN_MSG`, `buf` is a `void **` that receives a new message
/// to free with `nn_freemsg`. -1 with errno (`EAGAIN` with `NN_DONTWAIT`, `ETIMEDOUT`,
/// `EINTR` (a caught signal ended the wait), `EFSM`, `ENOTSUP`, `EBADF`, `ETERM`,
/// `EFAULT`).
///
/// # Safety
/// `buf` is null or points to `len` writable bytes (or, with `NN_MSG`, to a writable
/// `void *`).
#[no_mangle]
pub unsafe extern "C" fn nn_recv(s: c_int, buf: *mut c_void, len: usize, flags: c_int) -> c_int {
    ffi(-1, || {
        let e = table::get(s)?;
        if buf.is_null() && len != 0 {
            return Err(libc::EFAULT);
        }
        let body = e.recv(block(flags)).map_err(|err| errno_of(&err))?.body;
        let n = length(body.len())?;
        if len == NN_MSG {
            let m = msg::register(Vec::from(body))?;
            // SAFETY: non-null (checked above), and with NN_MSG the caller passes the
            // address of a writable `void *` (written unaligned).
            unsafe { buf.cast::<*mut c_void>().write_unaligned(m) };
        } else if len != 0 {
            let k = len.min(body.len());
            // SAFETY: `buf` is non-null with `len` writable bytes (the caller's contract);
            // `k <= len` bytes are copied from `body`, which cannot overlap C's buffer.
            unsafe { std::ptr::copy_nonoverlapping(body.as_ptr(), buf.cast::<u8>(), k) };
        }
        Ok(n)
    })
}

/// Sets an option: `NN_SOL_SOCKET` options, `NN_SUB_SUBSCRIBE`/`NN_SUB_UNSUBSCRIBE` at
/// level `NN_SUB`, `NN_REQ_RESEND_IVL` at `NN_REQ`, `NN_SURVEYOR_DEADLINE` at
/// `NN_SURVEYOR` (see [`options`]). -1 with `ENOPROTOOPT` for an unknown option,
/// `EINVAL` for a bad length or value, `EFAULT` for a null value with a length.
///
/// # Safety
/// `optval` is null or points to `optvallen` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn nn_setsockopt(
    s: c_int,
    level: c_int,
    option: c_int,
    optval: *const c_void,
    optvallen: usize,
) -> c_int {
    ffi(-1, || {
        let e = table::get(s)?;
        let val: &[u8] = if optvallen == 0 {
            &[]
        } else if optval.is_null() {
            return Err(libc::EFAULT);
        } else {
            // SAFETY: non-null, and the caller guarantees `optvallen` readable bytes for
            // the duration of the call (the option code copies what it keeps).
            unsafe { std::slice::from_raw_parts(optval.cast::<u8>(), optvallen) }
        };
        options::set(&e, level, option, val)?;
        Ok(0)
    })
}

/// Reads an option into `optval` (at most `*optvallen` bytes) and sets `*optvallen` to
/// the value's full size. -1 with `ENOPROTOOPT` for an unknown option, `EFAULT` for null
/// pointers.
///
/// # Safety
/// `optvallen` is null or a valid `size_t *`; `optval` is null or points to `*optvallen`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn nn_getsockopt(
    s: c_int,
    level: c_int,
    option: c_int,
    optval: *mut c_void,
    optvallen: *mut usize,
) -> c_int {
    ffi(-1, || {
        let e = table::get(s)?;
        if optvallen.is_null() {
            return Err(libc::EFAULT);
        }
        // A null value is EFAULT whatever the length, as in nanomsg.
        if optval.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: non-null, and the caller guarantees a valid `size_t *`.
        let room = unsafe { optvallen.read_unaligned() };
        let bytes = match options::get(&e, level, option)? {
            options::Value::Int(v) => v.to_ne_bytes().to_vec(),
            options::Value::Str(v) => v,
        };
        let k = room.min(bytes.len());
        if k != 0 {
            // SAFETY: `optval` is non-null with `room >= k` writable bytes.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), optval.cast::<u8>(), k) };
        }
        // SAFETY: as above, a valid `size_t *`.
        unsafe { optvallen.write_unaligned(bytes.len()) };
        Ok(0)
    })
}

/// Allocates a message of `size` bytes for zero-copy `nn_send`; `type` must be 0.
/// Null with errno `EINVAL` (bad type) or `ENOMEM`.
#[no_mangle]
pub extern "C" fn nn_allocmsg(size: usize, r#type: c_int) -> *mut c_void {
    ffi(std::ptr::null_mut(), || {
        if r#type != 0 {
            return Err(libc::EINVAL);
        }
        msg::alloc(size)
    })
}

/// Resizes a message from `nn_allocmsg`/`nn_recv(NN_MSG)`, keeping its contents; returns
/// its new address, or null with `EFAULT` (not a live message) or `ENOMEM`.
#[no_mangle]
pub extern "C" fn nn_reallocmsg(msg: *mut c_void, size: usize) -> *mut c_void {
    ffi(std::ptr::null_mut(), || msg::realloc(msg, size))
}

/// Frees a message. -1 with `EFAULT` if `msg` is not a live message of this library
/// (nanomsg would crash).
#[no_mangle]
pub extern "C" fn nn_freemsg(msg: *mut c_void) -> c_int {
    ffi(-1, || msg::take(msg).map(|_| 0).ok_or(libc::EFAULT))
}

/// The calling thread's last error (nanomsg's `nn_errno` reads `errno` too).
#[no_mangle]
pub extern "C" fn nn_errno() -> c_int {
    errno::get_errno()
}

/// The text for `errnum`, including nanomsg's own `ETERM` and `EFSM`.
#[no_mangle]
pub extern "C" fn nn_strerror(errnum: c_int) -> *const c_char {
    errno::strerror(errnum)
}

/// Terminates the library: blocked calls on every socket and later calls (except
/// `nn_close`) fail with `ETERM`.
#[no_mangle]
pub extern "C" fn nn_term() {
    let _ = catch_unwind(table::terminate);
}

/// Identifies this implementation (a symbol only sp-rs exports, so a program or test can
/// tell which `libnanomsg.so.5` was loaded).
#[no_mangle]
pub extern "C" fn nn_sp_rs_version() -> *const c_char {
    c"sp-rs sp-capi 0.1.0".as_ptr()
}
