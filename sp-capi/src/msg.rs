//! Messages handed to C with `NN_MSG`: `nn_allocmsg`, `nn_reallocmsg`, `nn_freemsg`, and
//! the buffers `nn_recv(.., NN_MSG, ..)` returns.
//!
//! Every live buffer is a `Vec<u8>` kept in a registry keyed by its address. A pointer
//! that C hands back is looked up before it is used, so freeing, resizing or sending a
//! pointer this library did not hand out (or one already freed) is an `EFAULT` error,
//! not undefined behaviour (nanomsg asserts on a bad chunk's magic number at best).

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Mutex, MutexGuard, Once};

static LIVE: Mutex<Option<HashMap<usize, Vec<u8>>>> = Mutex::new(None);
static AT_EXIT: Once = Once::new();

/// Runs at exit: the registry lets go of the messages C still holds, without freeing
/// them. A message C lost without `nn_freemsg` then has no pointer left to it and is
/// reported as lost by valgrind and LeakSanitizer, as a lost `malloc` block is (the
/// registry would otherwise keep it reachable); one C still points to stays reachable.
extern "C" fn release_at_exit() {
    let map = live().take();
    for (_, buf) in map.into_iter().flatten() {
        std::mem::forget(buf);
    }
}

fn live() -> MutexGuard<'static, Option<HashMap<usize, Vec<u8>>>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers `buf` and returns the address C sees. Every buffer gets at least one byte of
/// capacity, so even empty messages have distinct addresses.
pub(crate) fn register(mut buf: Vec<u8>) -> Result<*mut c_void, libc::c_int> {
    AT_EXIT.call_once(|| {
        // SAFETY: atexit only stores the pointer of a function with no arguments. The
        // linker takes `atexit` from glibc's libc_nonshared.a, which registers it with
        // this library's `__dso_handle`, so glibc also runs it when the library is
        // unloaded (dlclose) and never calls it after that. If registration fails
        // (out of memory) messages are only not released at exit.
        unsafe { libc::atexit(release_at_exit) };
    });
    if buf.capacity() == 0 {
        buf.try_reserve_exact(1).map_err(|_| libc::ENOMEM)?;
    }
    let ptr = buf.as_mut_ptr();
    live()
        .get_or_insert_with(HashMap::new)
        .insert(ptr as usize, buf);
    Ok(ptr.cast())
}

/// A new zeroed buffer of `size` bytes.
pub(crate) fn alloc(size: usize) -> Result<*mut c_void, libc::c_int> {
    let mut buf = Vec::new();
    buf.try_reserve_exact(size.max(1))
        .map_err(|_| libc::ENOMEM)?;
    buf.resize(size, 0);
    register(buf)
}

/// Takes the buffer at `ptr` out of the registry (C gives up ownership).
pub(crate) fn take(ptr: *mut c_void) -> Option<Vec<u8>> {
    live().as_mut()?.remove(&(ptr as usize))
}

/// A copy of the buffer at `ptr`, leaving it owned by C.
pub(crate) fn copy(ptr: *mut c_void) -> Option<bytes::Bytes> {
    live()
        .as_ref()?
        .get(&(ptr as usize))
        .map(|v| bytes::Bytes::copy_from_slice(v))
}

/// The length of the live buffer at `ptr`.
pub(crate) fn len(ptr: *mut c_void) -> Option<usize> {
    live().as_ref()?.get(&(ptr as usize)).map(Vec::len)
}

/// Resizes the buffer at `ptr` (keeping its contents), returning its possibly new address.
pub(crate) fn realloc(ptr: *mut c_void, size: usize) -> Result<*mut c_void, libc::c_int> {
    let mut guard = live();
    let map = guard.as_mut().ok_or(libc::EFAULT)?;
    let buf = map.get_mut(&(ptr as usize)).ok_or(libc::EFAULT)?;
    if size > buf.len() {
        buf.try_reserve_exact(size - buf.len())
            .map_err(|_| libc::ENOMEM)?;
    }
    buf.resize(size, 0);
    let new = buf.as_mut_ptr();
    if !std::ptr::eq(new.cast::<c_void>(), ptr) {
        let buf = map.remove(&(ptr as usize)).ok_or(libc::EFAULT)?;
        map.insert(new as usize, buf);
    }
    Ok(new.cast())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_realloc_free() {
        let p = alloc(0).unwrap();
        let q = alloc(0).unwrap();
        assert_ne!(p, q, "empty messages have distinct addresses");
        let p = realloc(p, 100).unwrap();
        assert_eq!(copy(p).unwrap().len(), 100);
        assert_eq!(take(p).unwrap().len(), 100);
        assert!(take(p).is_none(), "double free is caught");
        assert!(take(q).is_some());
        assert_eq!(realloc(q, 1), Err(libc::EFAULT));
    }
}
