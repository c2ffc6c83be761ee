//! nanomsg's error numbers, the mapping from sp-net's errors to them, and `errno` itself.

use std::ffi::{c_char, c_int};

use sp_net::url::UrlError;
use sp_net::Error;

/// nanomsg's base for the error numbers the platform lacks (`NN_HAUSNUMERO` in nn.h).
pub const NN_HAUSNUMERO: c_int = 156_384_712;
/// The library was terminated by `nn_term` (nn.h: `NN_HAUSNUMERO + 53`).
pub const ETERM: c_int = NN_HAUSNUMERO + 53;
/// The operation is not valid in the protocol's current state (nn.h: `NN_HAUSNUMERO + 54`).
pub const EFSM: c_int = NN_HAUSNUMERO + 54;

/// Sets the calling thread's `errno` (which `nn_errno` reads, as in nanomsg).
pub(crate) fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid and aligned
    // for the whole life of the thread; writing an int to it is what C's `errno = e` does.
    unsafe { *libc::__errno_location() = e };
}

/// Reads the calling thread's `errno`.
pub(crate) fn get_errno() -> c_int {
    // SAFETY: as in `set_errno`: the thread's own errno slot, always valid to read.
    unsafe { *libc::__errno_location() }
}

/// The nanomsg errno for an sp-net error. `Closed` is EBADF (the socket was closed under
/// a blocked call, as nanomsg reports it) unless `nn_term` ran, then ETERM.
pub(crate) fn errno_of(e: &Error) -> c_int {
    match e {
        Error::Closed if crate::table::terminated() => ETERM,
        Error::Closed => libc::EBADF,
        // nanomsg reports the survey deadline as ETIMEDOUT too.
        Error::TimedOut | Error::SurveyExpired => libc::ETIMEDOUT,
        Error::WrongState => EFSM,
        Error::NotSupported => libc::ENOTSUP,
        Error::WouldBlock | Error::NoPeers => libc::EAGAIN,
        Error::Url(UrlError::UnknownScheme(_)) => libc::EPROTONOSUPPORT,
        Error::Url(UrlError::TooLong(_)) => libc::ENAMETOOLONG,
        // Io, and Listen/Dial (an I/O error naming its URL).
        e => match e.io_error() {
            Some(io) => io.raw_os_error().unwrap_or(match io.kind() {
                std::io::ErrorKind::AddrInUse => libc::EADDRINUSE,
                std::io::ErrorKind::AddrNotAvailable => libc::EADDRNOTAVAIL,
                std::io::ErrorKind::ConnectionRefused => libc::ECONNREFUSED,
                _ => libc::EINVAL,
            }),
            None => libc::EINVAL,
        },
    }
}

/// nanomsg's own texts for its own numbers; the C library's for the rest.
pub(crate) fn strerror(errnum: c_int) -> *const c_char {
    match errnum {
        ETERM => c"Nanomsg library was terminated".as_ptr(),
        EFSM => c"Operation cannot be performed in this state".as_ptr(),
        // SAFETY: strerror accepts any int and returns a pointer to a NUL-terminated
        // string owned by the C library (nanomsg's nn_strerror returns the same pointer).
        _ => unsafe { libc::strerror(errnum) },
    }
}
