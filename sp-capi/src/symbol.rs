//! `nn_symbol` and `nn_symbol_info`: nanomsg's table of named constants, in nanomsg
//! 1.1.5's order (the C test `symbols.c` compares it with the real library's, entry by
//! entry), so programs that list or look up constants by name (nanocat's `--help`,
//! language bindings) see the same table.

use std::ffi::{c_char, c_int, CStr};

use crate::ffi;

/// One entry, laid out as C's `struct nn_symbol_properties`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NnSymbolProperties {
    /// The constant's value.
    pub value: c_int,
    /// Its name, a NUL-terminated static string.
    pub name: *const c_char,
    /// Its namespace (`NN_NS_*`), 0 for the namespaces themselves.
    pub ns: c_int,
    /// Option type (`NN_TYPE_*`) for options.
    pub r#type: c_int,
    /// Option unit (`NN_UNIT_*`) for options.
    pub unit: c_int,
}

/// A table row: the name stays a `&'static CStr` so the table is plain safe data.
pub(crate) struct Sym {
    pub(crate) value: c_int,
    pub(crate) name: &'static CStr,
    pub(crate) ns: c_int,
    pub(crate) ty: c_int,
    pub(crate) unit: c_int,
}

const fn sym(value: c_int, name: &'static CStr, ns: c_int, ty: c_int, unit: c_int) -> Sym {
    Sym {
        value,
        name,
        ns,
        ty,
        unit,
    }
}

/// The row at `i`, if any.
pub(crate) fn get(i: c_int) -> Option<&'static Sym> {
    usize::try_from(i).ok().and_then(|i| SYMBOLS.get(i))
}

impl Sym {
    /// The row as C's struct.
    pub(crate) fn properties(&self) -> NnSymbolProperties {
        NnSymbolProperties {
            value: self.value,
            name: self.name.as_ptr(),
            ns: self.ns,
            r#type: self.ty,
            unit: self.unit,
        }
    }
}

/// The name of constant number `i` of nanomsg's symbol table, and its value in
/// `*value` (if `value` is not null); null with `EINVAL` past the end.
///
/// # Safety
/// `value` is null or a writable `int *`.
#[no_mangle]
pub unsafe extern "C" fn nn_symbol(i: c_int, value: *mut c_int) -> *const c_char {
    ffi(std::ptr::null(), || {
        let sym = get(i).ok_or(libc::EINVAL)?;
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
    buf: *mut NnSymbolProperties,
    buflen: c_int,
) -> c_int {
    ffi(0, || {
        let Some(sym) = get(i) else {
            return Ok(0);
        };
        let props = sym.properties();
        let size = std::mem::size_of::<NnSymbolProperties>();
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

static SYMBOLS: &[Sym] = &[
    sym(0, c"NN_NS_NAMESPACE", 0, 0, 0),
    sym(1, c"NN_NS_VERSION", 0, 0, 0),
    sym(2, c"NN_NS_DOMAIN", 0, 0, 0),
    sym(3, c"NN_NS_TRANSPORT", 0, 0, 0),
    sym(4, c"NN_NS_PROTOCOL", 0, 0, 0),
    sym(5, c"NN_NS_OPTION_LEVEL", 0, 0, 0),
    sym(6, c"NN_NS_SOCKET_OPTION", 0, 0, 0),
    sym(7, c"NN_NS_TRANSPORT_OPTION", 0, 0, 0),
    sym(8, c"NN_NS_OPTION_TYPE", 0, 0, 0),
    sym(9, c"NN_NS_OPTION_UNIT", 0, 0, 0),
    sym(10, c"NN_NS_FLAG", 0, 0, 0),
    sym(11, c"NN_NS_ERROR", 0, 0, 0),
    sym(12, c"NN_NS_LIMIT", 0, 0, 0),
    sym(13, c"NN_NS_EVENT", 0, 0, 0),
    sym(14, c"NN_NS_STATISTIC", 0, 0, 0),
    sym(0, c"NN_TYPE_NONE", 8, 0, 0),
    sym(1, c"NN_TYPE_INT", 8, 0, 0),
    sym(2, c"NN_TYPE_STR", 8, 0, 0),
    sym(0, c"NN_UNIT_NONE", 9, 0, 0),
    sym(1, c"NN_UNIT_BYTES", 9, 0, 0),
    sym(2, c"NN_UNIT_MILLISECONDS", 9, 0, 0),
    sym(3, c"NN_UNIT_PRIORITY", 9, 0, 0),
    sym(4, c"NN_UNIT_BOOLEAN", 9, 0, 0),
    sym(6, c"NN_UNIT_COUNTER", 9, 0, 0),
    sym(5, c"NN_UNIT_MESSAGES", 9, 0, 0),
    sym(5, c"NN_VERSION_CURRENT", 1, 0, 0),
    sym(1, c"NN_VERSION_REVISION", 1, 0, 0),
    sym(0, c"NN_VERSION_AGE", 1, 0, 0),
    sym(1, c"AF_SP", 2, 0, 0),
    sym(2, c"AF_SP_RAW", 2, 0, 0),
    sym(-1, c"NN_INPROC", 3, 0, 0),
    sym(-2, c"NN_IPC", 3, 0, 0),
    sym(-3, c"NN_TCP", 3, 0, 0),
    sym(-4, c"NN_WS", 3, 0, 0),
    sym(16, c"NN_PAIR", 4, 0, 0),
    sym(32, c"NN_PUB", 4, 0, 0),
    sym(33, c"NN_SUB", 4, 0, 0),
    sym(49, c"NN_REP", 4, 0, 0),
    sym(48, c"NN_REQ", 4, 0, 0),
    sym(80, c"NN_PUSH", 4, 0, 0),
    sym(81, c"NN_PULL", 4, 0, 0),
    sym(98, c"NN_SURVEYOR", 4, 0, 0),
    sym(99, c"NN_RESPONDENT", 4, 0, 0),
    sym(112, c"NN_BUS", 4, 0, 0),
    sym(128, c"NN_SOCKADDR_MAX", 12, 0, 0),
    sym(0, c"NN_SOL_SOCKET", 5, 0, 0),
    sym(1, c"NN_LINGER", 6, 1, 2),
    sym(2, c"NN_SNDBUF", 6, 1, 1),
    sym(3, c"NN_RCVBUF", 6, 1, 1),
    sym(16, c"NN_RCVMAXSIZE", 6, 1, 1),
    sym(4, c"NN_SNDTIMEO", 6, 1, 2),
    sym(5, c"NN_RCVTIMEO", 6, 1, 2),
    sym(6, c"NN_RECONNECT_IVL", 6, 1, 2),
    sym(7, c"NN_RECONNECT_IVL_MAX", 6, 1, 2),
    sym(8, c"NN_SNDPRIO", 6, 1, 3),
    sym(9, c"NN_RCVPRIO", 6, 1, 3),
    sym(10, c"NN_SNDFD", 6, 1, 0),
    sym(11, c"NN_RCVFD", 6, 1, 0),
    sym(12, c"NN_DOMAIN", 6, 1, 0),
    sym(13, c"NN_PROTOCOL", 6, 1, 0),
    sym(14, c"NN_IPV4ONLY", 6, 1, 4),
    sym(15, c"NN_SOCKET_NAME", 6, 2, 0),
    sym(17, c"NN_MAXTTL", 6, 1, 0),
    sym(1, c"NN_SUB_SUBSCRIBE", 7, 2, 0),
    sym(2, c"NN_SUB_UNSUBSCRIBE", 7, 2, 0),
    sym(1, c"NN_REQ_RESEND_IVL", 7, 1, 2),
    sym(1, c"NN_SURVEYOR_DEADLINE", 7, 1, 2),
    sym(1, c"NN_TCP_NODELAY", 7, 1, 4),
    sym(1, c"NN_WS_MSG_TYPE", 7, 1, 0),
    sym(1, c"NN_DONTWAIT", 10, 0, 0),
    sym(1, c"NN_WS_MSG_TYPE_TEXT", 10, 0, 0),
    sym(2, c"NN_WS_MSG_TYPE_BINARY", 10, 0, 0),
    sym(1, c"NN_POLLIN", 13, 0, 0),
    sym(2, c"NN_POLLOUT", 13, 0, 0),
    sym(libc::EADDRINUSE, c"EADDRINUSE", 11, 0, 0),
    sym(libc::EADDRNOTAVAIL, c"EADDRNOTAVAIL", 11, 0, 0),
    sym(libc::EAFNOSUPPORT, c"EAFNOSUPPORT", 11, 0, 0),
    sym(libc::EAGAIN, c"EAGAIN", 11, 0, 0),
    sym(libc::EBADF, c"EBADF", 11, 0, 0),
    sym(libc::ECONNREFUSED, c"ECONNREFUSED", 11, 0, 0),
    sym(libc::EFAULT, c"EFAULT", 11, 0, 0),
    sym(crate::errno::EFSM, c"EFSM", 11, 0, 0),
    sym(libc::EINPROGRESS, c"EINPROGRESS", 11, 0, 0),
    sym(libc::EINTR, c"EINTR", 11, 0, 0),
    sym(libc::EINVAL, c"EINVAL", 11, 0, 0),
    sym(libc::EMFILE, c"EMFILE", 11, 0, 0),
    sym(libc::ENAMETOOLONG, c"ENAMETOOLONG", 11, 0, 0),
    sym(libc::ENETDOWN, c"ENETDOWN", 11, 0, 0),
    sym(libc::ENOBUFS, c"ENOBUFS", 11, 0, 0),
    sym(libc::ENODEV, c"ENODEV", 11, 0, 0),
    sym(libc::ENOMEM, c"ENOMEM", 11, 0, 0),
    sym(libc::ENOPROTOOPT, c"ENOPROTOOPT", 11, 0, 0),
    sym(libc::ENOTSOCK, c"ENOTSOCK", 11, 0, 0),
    sym(libc::ENOTSUP, c"ENOTSUP", 11, 0, 0),
    sym(libc::EPROTO, c"EPROTO", 11, 0, 0),
    sym(libc::EPROTONOSUPPORT, c"EPROTONOSUPPORT", 11, 0, 0),
    sym(crate::errno::ETERM, c"ETERM", 11, 0, 0),
    sym(libc::ETIMEDOUT, c"ETIMEDOUT", 11, 0, 0),
    sym(libc::EACCES, c"EACCES", 11, 0, 0),
    sym(libc::ECONNABORTED, c"ECONNABORTED", 11, 0, 0),
    sym(libc::ECONNRESET, c"ECONNRESET", 11, 0, 0),
    sym(libc::EHOSTUNREACH, c"EHOSTUNREACH", 11, 0, 0),
    sym(libc::EMSGSIZE, c"EMSGSIZE", 11, 0, 0),
    sym(libc::ENETRESET, c"ENETRESET", 11, 0, 0),
    sym(libc::ENETUNREACH, c"ENETUNREACH", 11, 0, 0),
    sym(libc::ENOTCONN, c"ENOTCONN", 11, 0, 0),
    sym(101, c"NN_STAT_ESTABLISHED_CONNECTIONS", 14, 1, 6),
    sym(102, c"NN_STAT_ACCEPTED_CONNECTIONS", 14, 1, 6),
    sym(103, c"NN_STAT_DROPPED_CONNECTIONS", 14, 1, 6),
    sym(104, c"NN_STAT_BROKEN_CONNECTIONS", 14, 1, 6),
    sym(105, c"NN_STAT_CONNECT_ERRORS", 14, 1, 6),
    sym(106, c"NN_STAT_BIND_ERRORS", 14, 1, 6),
    sym(107, c"NN_STAT_ACCEPT_ERRORS", 14, 1, 6),
    sym(301, c"NN_STAT_MESSAGES_SENT", 14, 1, 5),
    sym(302, c"NN_STAT_MESSAGES_RECEIVED", 14, 1, 5),
    sym(303, c"NN_STAT_BYTES_SENT", 14, 1, 1),
    sym(304, c"NN_STAT_BYTES_RECEIVED", 14, 1, 1),
    sym(201, c"NN_STAT_CURRENT_CONNECTIONS", 14, 1, 0),
    sym(202, c"NN_STAT_INPROGRESS_CONNECTIONS", 14, 1, 0),
    sym(401, c"NN_STAT_CURRENT_SND_PRIORITY", 14, 1, 3),
    sym(203, c"NN_STAT_CURRENT_EP_ERRORS", 14, 1, 0),
];
