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
// with a `// SAFETY:` comment: in this file (the exported functions and their helpers that
// read C's pointers) and in `errno.rs` (the thread's errno slot, libc's strerror). The
// other modules are safe Rust working on copies.
#![allow(unsafe_code)]

mod device;
mod errno;
mod msg;
pub mod msghdr;
pub mod options;
pub mod poll;
pub mod symbol;
mod table;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use bytes::Bytes;
use sp_net::{BlockingSocket, Message, SocketType};

use errno::{errno_of, set_errno};
pub use errno::{EFSM, ETERM, NN_HAUSNUMERO};
use msghdr::{NnIovec, NnMsghdr};
use table::Entry;

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
            Entry {
                sock,
                domain,
                protocol,
                opts: Mutex::new(opts),
                endpoints: Mutex::default(),
                stash: Mutex::default(),
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
        e.sock.close();
        Ok(0)
    })
}

/// The address C passed, as UTF-8 (`EFAULT` for null, `EINVAL` otherwise).
///
/// # Safety
/// `addr` is null or points to a NUL-terminated string that stays valid for the call.
unsafe fn address<'a>(addr: *const c_char) -> Result<&'a str, c_int> {
    if addr.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: non-null, and the caller (nn_bind/nn_connect's contract) guarantees a
    // NUL-terminated string that outlives this call.
    let c = unsafe { CStr::from_ptr(addr) };
    c.to_str().map_err(|_| libc::EINVAL)
}

fn add_endpoint(
    s: c_int,
    addr: &str,
    f: impl FnOnce(&BlockingSocket, &str) -> Result<sp_net::Endpoint, sp_net::Error>,
) -> Result<c_int, c_int> {
    let e = table::get(s)?;
    let ep = f(&e.sock, addr).map_err(|err| errno_of(&err))?;
    let id = e
        .endpoints
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .add(ep);
    Ok(id)
}

/// Binds socket `s` to `addr` (`tcp://`, `ipc://`, `inproc://`, `ws://`...). Returns the
/// endpoint id for `nn_shutdown`, or -1 with errno (`EADDRINUSE`, `EINVAL`,
/// `EPROTONOSUPPORT`, `ENAMETOOLONG`, `EBADF`, `ETERM`, `EFAULT`).
///
/// # Safety
/// `addr` is null or a NUL-terminated string valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn nn_bind(s: c_int, addr: *const c_char) -> c_int {
    ffi(-1, || {
        // SAFETY: forwarded from this function's own contract.
        let a = unsafe { address(addr) }?;
        add_endpoint(s, a, BlockingSocket::listen)
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
        add_endpoint(s, a, BlockingSocket::dial)
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

fn send_on(e: &Entry, body: Bytes, flags: c_int) -> Result<(), c_int> {
    let msg = Message::new(body);
    let r = if flags & NN_DONTWAIT != 0 {
        e.sock.as_async().try_send(msg)
    } else {
        e.sock.send(msg)
    };
    r.map_err(|err| errno_of(&err))
}

/// Sends `len` bytes from `buf`; with `len == NN_MSG`, `buf` points to a message pointer
/// from `nn_allocmsg`, which this call frees on success (on failure the caller still owns
/// it). Returns the number of bytes sent, or -1 with errno (`EAGAIN` with `NN_DONTWAIT`,
/// `ETIMEDOUT`, `EFSM`, `ENOTSUP`, `EBADF`, `ETERM`, `EFAULT`, `EINVAL`).
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
            Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) })
        };
        send_on(&e, body, flags)?;
        Ok(n)
    })
}

/// Receives a message into `buf` (at most `len` bytes copied; the message's full length
/// is returned). With `len == NN_MSG`, `buf` is a `void **` that receives a new message
/// to free with `nn_freemsg`. -1 with errno (`EAGAIN` with `NN_DONTWAIT`, `ETIMEDOUT`,
/// `EFSM`, `ENOTSUP`, `EBADF`, `ETERM`, `EFAULT`).
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
        let body = e.recv(flags & NN_DONTWAIT != 0)?.body;
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

/// Reads the `i`th iovec of `h` (bounds checked by the caller against `msg_iovlen`).
///
/// # Safety
/// `h.msg_iov` points to at least `i + 1` readable `nn_iovec`s.
unsafe fn iov_at(h: &NnMsghdr, i: usize) -> NnIovec {
    // SAFETY: forwarded from this function's contract (read unaligned: any address).
    unsafe { h.msg_iov.add(i).read_unaligned() }
}

/// The message header C passed, checked: `EINVAL` for null, `EMSGSIZE` for a negative
/// count, `EFAULT` for a null array with a count, `EINVAL` for `NN_MSG` in a
/// scatter/gather array of more than one element, `EFAULT` for a null buffer.
///
/// # Safety
/// `msghdr` is null or a readable `nn_msghdr` whose array has `msg_iovlen` elements.
unsafe fn read_msghdr(msghdr: *const NnMsghdr) -> Result<(NnMsghdr, Vec<NnIovec>), c_int> {
    if msghdr.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-null and readable by the caller's contract.
    let h = unsafe { msghdr.read_unaligned() };
    let n = usize::try_from(h.msg_iovlen).map_err(|_| libc::EMSGSIZE)?;
    if n > 0 && h.msg_iov.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `msg_iov` is non-null with `n` elements (the caller's contract).
    let iovs: Vec<NnIovec> = (0..n).map(|i| unsafe { iov_at(&h, i) }).collect();
    for iov in &iovs {
        if iov.iov_len == NN_MSG && n != 1 {
            return Err(libc::EINVAL);
        }
        if iov.iov_base.is_null() && iov.iov_len != 0 {
            return Err(libc::EFAULT);
        }
    }
    Ok((h, iovs))
}

/// Sends a message gathered from `msghdr`'s buffers (one buffer of length `NN_MSG`: a
/// message from `nn_allocmsg`, freed on success). On a raw socket, an `SP_HDR` control
/// message supplies the SP header. Returns the body's length, or -1 with errno as for
/// `nn_send` (and `EINVAL`, `EMSGSIZE` for a bad header).
///
/// # Safety
/// `msghdr` is null or a readable `nn_msghdr`; its array, buffers and control data are
/// readable for the lengths it gives (with `NN_MSG`, `void **`s to messages).
#[no_mangle]
pub unsafe extern "C" fn nn_sendmsg(s: c_int, msghdr: *const NnMsghdr, flags: c_int) -> c_int {
    ffi(-1, || {
        let e = table::get(s)?;
        // SAFETY: forwarded from this function's contract.
        let (h, iovs) = unsafe { read_msghdr(msghdr) }?;
        let mut owned = Vec::new();
        let body = match iovs.as_slice() {
            [one] if one.iov_len == NN_MSG => {
                // SAFETY: non-null (checked), a `void **` by the NN_MSG contract.
                let m = unsafe { one.iov_base.cast::<*mut c_void>().read_unaligned() };
                owned.push(m);
                msg::copy(m).ok_or(libc::EFAULT)?
            }
            _ => {
                let mut body = Vec::new();
                for iov in iovs.iter().filter(|v| v.iov_len != 0) {
                    // SAFETY: non-null (checked) with `iov_len` readable bytes.
                    let part = unsafe {
                        std::slice::from_raw_parts(iov.iov_base.cast::<u8>(), iov.iov_len)
                    };
                    body.extend_from_slice(part);
                }
                Bytes::from(body)
            }
        };
        let mut header = Bytes::new();
        if e.domain == AF_SP_RAW && !h.msg_control.is_null() {
            let ctrl = if h.msg_controllen == NN_MSG {
                // SAFETY: non-null, a `void **` by the NN_MSG contract.
                let m = unsafe { h.msg_control.cast::<*mut c_void>().read_unaligned() };
                owned.push(m);
                msg::copy(m).ok_or(libc::EFAULT)?
            } else {
                // SAFETY: non-null with `msg_controllen` readable bytes (the contract).
                Bytes::copy_from_slice(unsafe {
                    std::slice::from_raw_parts(h.msg_control.cast::<u8>(), h.msg_controllen)
                })
            };
            if let Some(hdr) = msghdr::parse_sp_hdr(&ctrl)? {
                header = Bytes::from(hdr);
            }
        }
        let n = length(body.len())?;
        let m = Message::with_header(header, body);
        let r = if flags & NN_DONTWAIT != 0 {
            e.sock.as_async().try_send(m)
        } else {
            e.sock.send(m)
        };
        r.map_err(|err| errno_of(&err))?;
        for m in owned {
            drop(msg::take(m));
        }
        Ok(n)
    })
}

/// Receives a message, scattering its body over `msghdr`'s buffers (one buffer of length
/// `NN_MSG`: receives a new message) and, if `msg_control` is set, writing the
/// `SP_HDR` control message (with `msg_controllen == NN_MSG`: a new message; otherwise
/// only if it fits). Returns the body's length, or -1 with errno as for `nn_recv`.
///
/// # Safety
/// `msghdr` is null or a readable `nn_msghdr`; its array is readable, its buffers and
/// control data writable for the lengths it gives (with `NN_MSG`, writable `void *`s).
#[no_mangle]
pub unsafe extern "C" fn nn_recvmsg(s: c_int, msghdr: *mut NnMsghdr, flags: c_int) -> c_int {
    ffi(-1, || {
        let e = table::get(s)?;
        // SAFETY: forwarded from this function's contract.
        let (h, iovs) = unsafe { read_msghdr(msghdr) }?;
        let m = e.recv(flags & NN_DONTWAIT != 0)?;
        let n = length(m.body.len())?;
        match iovs.as_slice() {
            [one] if one.iov_len == NN_MSG => {
                let p = msg::register(Vec::from(m.body))?;
                // SAFETY: non-null (checked), a writable `void *` by the NN_MSG contract.
                unsafe { one.iov_base.cast::<*mut c_void>().write_unaligned(p) };
            }
            _ => {
                let mut rest: &[u8] = &m.body;
                for iov in &iovs {
                    let k = iov.iov_len.min(rest.len());
                    if k == 0 {
                        continue;
                    }
                    // SAFETY: non-null (checked) with `iov_len >= k` writable bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(rest.as_ptr(), iov.iov_base.cast::<u8>(), k);
                    }
                    rest = &rest[k..];
                }
            }
        }
        if !h.msg_control.is_null() {
            let ctrl = msghdr::build_sp_hdr(&m.header);
            if h.msg_controllen == NN_MSG {
                let p = msg::register(ctrl)?;
                // SAFETY: non-null, a writable `void *` by the NN_MSG contract.
                unsafe { h.msg_control.cast::<*mut c_void>().write_unaligned(p) };
            } else if h.msg_controllen >= ctrl.len() {
                // SAFETY: non-null with `msg_controllen >= ctrl.len()` writable bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        ctrl.as_ptr(),
                        h.msg_control.cast::<u8>(),
                        ctrl.len(),
                    );
                }
            }
        }
        Ok(n)
    })
}

/// The body of `nn_cmsg_nxthdr_`.
///
/// # Safety
/// As for `nn_cmsg_nxthdr_`.
unsafe fn cmsg_next(
    mhdr: *const NnMsghdr,
    cmsg: *const msghdr::NnCmsghdr,
) -> *mut msghdr::NnCmsghdr {
    let null = std::ptr::null_mut();
    if mhdr.is_null() {
        return null;
    }
    // SAFETY: non-null and readable by the contract.
    let h = unsafe { mhdr.read_unaligned() };
    if h.msg_control.is_null() {
        return null;
    }
    let (data, size) = if h.msg_controllen == NN_MSG {
        // SAFETY: non-null, a `void **` by the NN_MSG contract.
        let p = unsafe { h.msg_control.cast::<*mut c_void>().read_unaligned() };
        match msg::len(p) {
            Some(n) => (p.cast::<u8>(), n),
            None => return null,
        }
    } else {
        (h.msg_control.cast::<u8>(), h.msg_controllen)
    };
    let first = msghdr::space(0);
    let cmsg_len_at = |off: usize| {
        // SAFETY: callers check `off + space(0) <= size`, so the `nn_cmsghdr` at `off`
        // lies inside the control data.
        unsafe { data.add(off).cast::<msghdr::NnCmsghdr>().read_unaligned() }.cmsg_len
    };
    let next = if cmsg.is_null() {
        0
    } else {
        let off = (cmsg as usize).wrapping_sub(data as usize);
        if off.checked_add(first).is_none_or(|end| end > size) {
            return null;
        }
        match off.checked_add(msghdr::align(cmsg_len_at(off))) {
            Some(n) => n,
            None => return null,
        }
    };
    if next.checked_add(first).is_none_or(|end| end > size) {
        return null;
    }
    if next
        .checked_add(msghdr::align(cmsg_len_at(next)))
        .is_none_or(|end| end > size)
    {
        return null;
    }
    data.wrapping_add(next).cast()
}

/// The control message after `cmsg` in `mhdr`'s control data (the first when `cmsg` is
/// null), or null at the end; used by the `NN_CMSG_FIRSTHDR`/`NN_CMSG_NXTHDR` macros.
///
/// # Safety
/// `mhdr` is null or a readable `nn_msghdr` whose control data is readable for
/// `msg_controllen` bytes (with `NN_MSG`, a `void **` to a message); `cmsg` is null or
/// points into that control data.
#[no_mangle]
pub unsafe extern "C" fn nn_cmsg_nxthdr_(
    mhdr: *const NnMsghdr,
    cmsg: *const msghdr::NnCmsghdr,
) -> *mut msghdr::NnCmsghdr {
    // SAFETY: forwarded from this function's contract; `ffi` keeps a panic from
    // unwinding into C (null is "no more control messages").
    ffi(std::ptr::null_mut(), || {
        Ok(unsafe { cmsg_next(mhdr, cmsg) })
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
        // SAFETY: non-null, and the caller guarantees a valid `size_t *`.
        let room = unsafe { optvallen.read_unaligned() };
        if optval.is_null() && room != 0 {
            return Err(libc::EFAULT);
        }
        let bytes = match options::get(&e, level, option)? {
            options::Value::Int(v) => v.to_ne_bytes().to_vec(),
            options::Value::Str(v) => v,
        };
        let k = room.min(bytes.len());
        if k != 0 {
            // SAFETY: `optval` is non-null (room != 0) with `room >= k` writable bytes.
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

/// The name of constant number `i` of nanomsg's symbol table, and its value in
/// `*value` (if `value` is not null); null with `EINVAL` past the end.
///
/// # Safety
/// `value` is null or a writable `int *`.
#[no_mangle]
pub unsafe extern "C" fn nn_symbol(i: c_int, value: *mut c_int) -> *const c_char {
    ffi(std::ptr::null(), || {
        let sym = symbol::get(i).ok_or(libc::EINVAL)?;
        if !value.is_null() {
            // SAFETY: non-null, and the caller guarantees a writable `int *`.
            unsafe { value.write_unaligned(sym.value) };
        }
        Ok(sym.name.as_ptr())
    })
}

/// Copies entry `i` of the symbol table (at most `buflen` bytes of it) into `buf` and
/// returns the number of bytes copied; 0 past the end of the table.
///
/// # Safety
/// `buf` is null or points to `buflen` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn nn_symbol_info(
    i: c_int,
    buf: *mut symbol::NnSymbolProperties,
    buflen: c_int,
) -> c_int {
    ffi(0, || {
        let Some(sym) = symbol::get(i) else {
            return Ok(0);
        };
        let props = sym.properties();
        let size = std::mem::size_of::<symbol::NnSymbolProperties>();
        let k = usize::try_from(buflen).unwrap_or(0).min(size);
        if k == 0 {
            return Ok(0);
        }
        if buf.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: `buf` is non-null with `buflen >= k` writable bytes (the caller's
        // contract); `k <= size_of` bytes are read from a local struct.
        unsafe {
            std::ptr::copy_nonoverlapping(
                std::ptr::from_ref(&props).cast::<u8>(),
                buf.cast::<u8>(),
                k,
            );
        }
        c_int::try_from(k).map_err(|_| libc::EINVAL)
    })
}

/// Forwards messages between raw sockets `s1` and `s2` (whose protocols must be each
/// other's peers) in every direction they allow, or, with one of them -1, reflects a raw
/// BUS or PAIR socket into itself. Blocks until a socket fails; returns -1 with that
/// errno (`EBADF` after `nn_close`, `ETERM` after `nn_term`), or `EINVAL` for sockets
/// that cannot form a device.
#[no_mangle]
pub extern "C" fn nn_device(s1: c_int, s2: c_int) -> c_int {
    ffi(-1, || {
        let (a, b) = match (s1, s2) {
            (-1, s) | (s, -1) => (table::get(s)?, None),
            (s1, s2) => (table::get(s1)?, Some(table::get(s2)?)),
        };
        Err(device::run(a, b))
    })
}

/// nanomsg's statistic numbers (`NN_STAT_*` in nn.h) this library reports.
mod stat {
    pub(crate) const ESTABLISHED_CONNECTIONS: i32 = 101;
    pub(crate) const ACCEPTED_CONNECTIONS: i32 = 102;
    pub(crate) const DROPPED_CONNECTIONS: i32 = 103;
    pub(crate) const BROKEN_CONNECTIONS: i32 = 104;
    pub(crate) const CONNECT_ERRORS: i32 = 105;
    pub(crate) const BIND_ERRORS: i32 = 106;
    pub(crate) const ACCEPT_ERRORS: i32 = 107;
    pub(crate) const CURRENT_CONNECTIONS: i32 = 201;
    pub(crate) const INPROGRESS_CONNECTIONS: i32 = 202;
    pub(crate) const CURRENT_EP_ERRORS: i32 = 203;
    pub(crate) const MESSAGES_SENT: i32 = 301;
    pub(crate) const MESSAGES_RECEIVED: i32 = 302;
    pub(crate) const BYTES_SENT: i32 = 303;
    pub(crate) const BYTES_RECEIVED: i32 = 304;
    pub(crate) const CURRENT_SND_PRIORITY: i32 = 401;
}

/// A statistic of socket `s` from sp-net's counters (see docs/c-api.md for what each
/// one counts here); `(uint64_t) -1` with `EINVAL` for an unknown statistic, `EBADF` for
/// an unknown socket.
#[no_mangle]
pub extern "C" fn nn_get_statistic(s: c_int, stat: c_int) -> u64 {
    ffi(u64::MAX, || {
        let e = table::get(s)?;
        let st = e.sock.stats();
        let (sock, proto) = (&st.socket, &st.protocol);
        Ok(match stat {
            stat::ESTABLISHED_CONNECTIONS => sock.connects,
            stat::ACCEPTED_CONNECTIONS => sock.accepts,
            stat::DROPPED_CONNECTIONS => sock.handshake_failures + sock.frame_errors,
            stat::BROKEN_CONNECTIONS => sock.pipes_removed,
            stat::CONNECT_ERRORS => sock.connect_failures,
            stat::BIND_ERRORS | stat::ACCEPT_ERRORS | stat::INPROGRESS_CONNECTIONS => 0,
            stat::CURRENT_EP_ERRORS => 0,
            stat::CURRENT_CONNECTIONS => {
                u64::try_from(e.sock.as_async().pipe_count()).unwrap_or(u64::MAX)
            }
            stat::MESSAGES_SENT => proto.msgs_out,
            stat::MESSAGES_RECEIVED => proto.delivered,
            stat::BYTES_SENT => proto.bytes_out,
            stat::BYTES_RECEIVED => proto.bytes_in,
            stat::CURRENT_SND_PRIORITY => {
                let p = e.opts.lock().unwrap_or_else(|p| p.into_inner()).sndprio();
                u64::try_from(p).unwrap_or(0)
            }
            _ => return Err(libc::EINVAL),
        })
    })
}

/// `struct nn_pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NnPollfd {
    /// The socket.
    pub fd: c_int,
    /// `NN_POLLIN` and/or `NN_POLLOUT` wanted.
    pub events: i16,
    /// What is ready.
    pub revents: i16,
}

/// Waits up to `timeout` ms (-1: forever) until one of the sockets can receive
/// (`NN_POLLIN`) or send (`NN_POLLOUT`); returns how many entries have `revents` set,
/// 0 on timeout, or -1 with `EBADF`, `ETERM`, `EFAULT`. See docs/c-api.md for how
/// readiness is found here (by polling, with a short sleep between rounds).
///
/// # Safety
/// `fds` is null or points to `nfds` readable and writable `nn_pollfd`s.
#[no_mangle]
pub unsafe extern "C" fn nn_poll(fds: *mut NnPollfd, nfds: c_int, timeout: c_int) -> c_int {
    ffi(-1, || {
        let n = usize::try_from(nfds).map_err(|_| libc::EINVAL)?;
        if n > 0 && fds.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: non-null with `n` readable elements (the caller's contract).
        let mut v: Vec<NnPollfd> = (0..n)
            .map(|i| unsafe { fds.add(i).read_unaligned() })
            .collect();
        let ready = poll::poll(&mut v, timeout)?;
        for (i, p) in v.iter().enumerate() {
            // SAFETY: as above, `n` writable elements.
            unsafe { fds.add(i).write_unaligned(*p) };
        }
        Ok(ready)
    })
}

/// Identifies this implementation (a symbol only sp-rs exports, so a program or test can
/// tell which `libnanomsg.so.5` was loaded).
#[no_mangle]
pub extern "C" fn nn_sp_rs_version() -> *const c_char {
    c"sp-rs sp-capi 0.1.0".as_ptr()
}
