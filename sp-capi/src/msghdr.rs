//! `nn_sendmsg` / `nn_recvmsg` support: C's `struct nn_msghdr`, `nn_iovec`, `nn_cmsghdr`,
//! and the `SP_HDR` control message that carries a raw socket's SP header.
//!
//! The control-message layout is nanomsg's: a `nn_cmsghdr` (`cmsg_len`, level
//! `PROTO_SP`, type `SP_HDR`), then a `size_t` header length, then the header bytes, the
//! whole padded to `size_t` alignment (`NN_CMSG_SPACE(len + sizeof (size_t))`). The C
//! test `msghdr.c` prints what both libraries write and the Rust test compares them.
//! Control bytes are parsed and built here as plain byte vectors; only the copying in and
//! out of C's memory is `unsafe`, in `sendmsg.rs`.

use std::ffi::{c_int, c_void};

/// `struct nn_iovec`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NnIovec {
    /// The buffer (with `iov_len == NN_MSG`, a `void **` to a message).
    pub iov_base: *mut c_void,
    /// Its length, or `NN_MSG`.
    pub iov_len: usize,
}

/// `struct nn_msghdr`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NnMsghdr {
    /// The scatter/gather array.
    pub msg_iov: *mut NnIovec,
    /// Its length.
    pub msg_iovlen: c_int,
    /// Control data (with `msg_controllen == NN_MSG`, a `void **` to a message).
    pub msg_control: *mut c_void,
    /// Its length, or `NN_MSG`.
    pub msg_controllen: usize,
}

/// `struct nn_cmsghdr`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NnCmsghdr {
    /// Length of the header and data (without the trailing padding).
    pub cmsg_len: usize,
    /// Level (`PROTO_SP`).
    pub cmsg_level: c_int,
    /// Type (`SP_HDR`).
    pub cmsg_type: c_int,
}

/// Control-message level of SP properties.
pub const PROTO_SP: c_int = 1;
/// Control-message type of the SP header.
pub const SP_HDR: c_int = 1;

const WORD: usize = std::mem::size_of::<usize>();
const CMSG_HDR: usize = std::mem::size_of::<NnCmsghdr>();

/// `NN_CMSG_ALIGN_`.
pub(crate) const fn align(len: usize) -> usize {
    (len + WORD - 1) & !(WORD - 1)
}

/// `NN_CMSG_SPACE`.
pub(crate) const fn space(len: usize) -> usize {
    align(len) + align(CMSG_HDR)
}

/// The `SP_HDR` control message for `header`.
pub(crate) fn build_sp_hdr(header: &[u8]) -> Vec<u8> {
    let total = space(header.len() + WORD);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&total.to_ne_bytes());
    out.extend_from_slice(&PROTO_SP.to_ne_bytes());
    out.extend_from_slice(&SP_HDR.to_ne_bytes());
    out.extend_from_slice(&header.len().to_ne_bytes());
    out.extend_from_slice(header);
    out.resize(total, 0);
    out
}

fn word_at(b: &[u8], at: usize) -> Option<usize> {
    let bytes = b.get(at..at.checked_add(WORD)?)?;
    Some(usize::from_ne_bytes(bytes.try_into().ok()?))
}

fn int_at(b: &[u8], at: usize) -> Option<c_int> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(c_int::from_ne_bytes(bytes.try_into().ok()?))
}

/// The SP header in control bytes: `Ok(None)` if there is no `SP_HDR` message, `EINVAL`
/// if one is malformed.
pub(crate) fn parse_sp_hdr(ctrl: &[u8]) -> Result<Option<Vec<u8>>, c_int> {
    let mut at = 0;
    while at + CMSG_HDR <= ctrl.len() {
        let len = word_at(ctrl, at).ok_or(libc::EINVAL)?;
        let level = int_at(ctrl, at + WORD).ok_or(libc::EINVAL)?;
        let ty = int_at(ctrl, at + WORD + 4).ok_or(libc::EINVAL)?;
        if level == PROTO_SP && ty == SP_HDR {
            let data = at + align(CMSG_HDR);
            let n = word_at(ctrl, data).ok_or(libc::EINVAL)?;
            let start = data + WORD;
            let end = start.checked_add(n).ok_or(libc::EINVAL)?;
            return ctrl
                .get(start..end)
                .map(|h| Some(h.to_vec()))
                .ok_or(libc::EINVAL);
        }
        if len < CMSG_HDR {
            return Err(libc::EINVAL);
        }
        at = at.checked_add(align(len)).ok_or(libc::EINVAL)?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sp_hdr_round_trip() {
        let h = [0x80, 0, 0, 7];
        let c = build_sp_hdr(&h);
        assert_eq!(c.len(), space(4 + WORD));
        assert_eq!(parse_sp_hdr(&c), Ok(Some(h.to_vec())));
        assert_eq!(parse_sp_hdr(&[]), Ok(None));
        let mut bad = c.clone();
        bad[align(CMSG_HDR)] = 200; // header length past the end
        assert_eq!(parse_sp_hdr(&bad), Err(libc::EINVAL));
    }
}
