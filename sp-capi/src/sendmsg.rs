//! `nn_sendmsg`, `nn_recvmsg` and `nn_cmsg_nxthdr_`: scatter/gather and control data at
//! the C boundary. The control messages themselves are built and parsed as plain bytes in
//! [`crate::msghdr`].

use std::ffi::{c_int, c_void};

use bytes::Bytes;
use sp_net::Message;

use crate::errno::errno_of;
use crate::msghdr::{self, NnIovec, NnMsghdr};
use crate::{block, ffi, length, msg, table, AF_SP_RAW, NN_MSG};

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
        e.send(m, block(flags)).map_err(|err| errno_of(&err))?;
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
        let m = e.recv(block(flags)).map_err(|err| errno_of(&err))?;
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
