//! Which shared object a loaded function came from (libc's `dladdr`), and whether a
//! symbol is exported at all (`dlsym`), for the peers to report the C library they
//! really run against.

use std::ffi::{c_char, c_int, c_void, CStr};

extern "C" {
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// glibc's `RTLD_DEFAULT`: look a symbol up in the process's global scope.
const RTLD_DEFAULT: *mut c_void = std::ptr::null_mut();

/// The address of `symbol` if some object loaded into the process exports it.
#[allow(dead_code)] // nng's declarations include this file too
pub(crate) fn lookup(symbol: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym only reads the NUL-terminated name.
    let addr = unsafe { dlsym(RTLD_DEFAULT, symbol.as_ptr()) };
    (!addr.is_null()).then_some(addr)
}

/// glibc's `Dl_info`.
#[repr(C)]
struct DlInfo {
    fname: *const c_char,
    fbase: *mut c_void,
    sname: *const c_char,
    saddr: *mut c_void,
}

/// The canonical path of the shared object holding `addr` ("unknown" when the loader
/// does not know).
pub(crate) fn file_of(addr: *const c_void) -> String {
    let mut info = DlInfo {
        fname: std::ptr::null(),
        fbase: std::ptr::null_mut(),
        sname: std::ptr::null(),
        saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr fills `info` for an address inside a loaded object.
    let found = unsafe { dladdr(addr, &mut info) };
    let file = if found != 0 && !info.fname.is_null() {
        // SAFETY: dli_fname is a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.fname) }
            .to_string_lossy()
            .into_owned()
    } else {
        "unknown".to_owned()
    };
    std::fs::canonicalize(&file)
        .map(|p| p.display().to_string())
        .unwrap_or(file)
}
