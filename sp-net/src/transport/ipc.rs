//! IPC: Unix domain stream sockets, with stale socket files removed at bind; on Linux
//! also sockets in the abstract namespace (`abstract://name`), which have no file.

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use super::{BoxFuture, Conn, Listener};
use crate::url::Url;

fn into_conn(stream: UnixStream, peer: String) -> Conn {
    Conn::new(Box::new(stream), peer)
}

/// Connects to the socket file at `path`.
pub(crate) async fn connect(path: &Path) -> io::Result<Conn> {
    let s = UnixStream::connect(path).await?;
    Ok(into_conn(s, path.display().to_string()))
}

struct IpcListen {
    listener: UnixListener,
    url: Url,
    /// The socket file with its identity, removed when the listener closes if it is
    /// still the one this listener created (none in the abstract namespace).
    path: Option<(PathBuf, FileId)>,
}

/// A file's device and inode: which file a path names.
type FileId = (u64, u64);

fn file_id(path: &Path) -> io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path)?;
    Ok((m.dev(), m.ino()))
}

impl Listener for IpcListen {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
        Box::pin(async move {
            let (s, _) = self.listener.accept().await?;
            Ok(into_conn(s, self.url.to_string()))
        })
    }

    fn local_url(&self) -> Url {
        self.url.clone()
    }
}

impl Drop for IpcListen {
    /// Removes the socket file, unless it was replaced meanwhile (removed by someone else
    /// and bound again by another listener, whose file it now is).
    fn drop(&mut self) {
        if let Some((path, id)) = &self.path {
            if file_id(path).is_ok_and(|now| now == *id) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// The address of `name` in Linux's abstract namespace.
#[cfg(target_os = "linux")]
fn abstract_addr(name: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name)
}

/// Connects to `name` in the abstract namespace. The connect runs on the blocking pool:
/// std has no non-blocking connect to an abstract address, and a full listen backlog
/// would block it.
#[cfg(target_os = "linux")]
pub(crate) async fn connect_abstract(url: &Url, name: &[u8]) -> io::Result<Conn> {
    let addr = abstract_addr(name)?;
    let s = tokio::task::spawn_blocking(move || {
        let s = std::os::unix::net::UnixStream::connect_addr(&addr)?;
        s.set_nonblocking(true)?;
        Ok::<_, io::Error>(s)
    })
    .await
    .map_err(io::Error::other)??;
    Ok(into_conn(UnixStream::from_std(s)?, url.to_string()))
}

/// Binds `name` in the abstract namespace (no file: nothing stale to remove, and a name
/// in use gives `AddrInUse`).
#[cfg(target_os = "linux")]
pub(crate) fn bind_abstract(url: &Url, name: &[u8]) -> io::Result<Box<dyn Listener>> {
    let std_listener = std::os::unix::net::UnixListener::bind_addr(&abstract_addr(name)?)?;
    std_listener.set_nonblocking(true)?;
    Ok(Box::new(IpcListen {
        listener: UnixListener::from_std(std_listener)?,
        url: url.clone(),
        path: None,
    }))
}

/// Binds at `path`. A leftover socket file that nobody accepts on (connect refused) is
/// removed first, as the IPC mapping prescribes; a live one gives `AddrInUse`, and so
/// does anything at the path that is not a socket (Linux refuses a connect to a regular
/// file too, which must not make us delete it).
pub(crate) async fn bind(url: &Url, path: &Path) -> io::Result<Box<dyn Listener>> {
    if path.exists() {
        use std::os::unix::fs::FileTypeExt;
        if !std::fs::symlink_metadata(path)?.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        match UnixStream::connect(path).await {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use", path.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %path.display(), "removing stale IPC socket file");
                std::fs::remove_file(path)?;
            }
            Err(e) => return Err(e),
        }
    }
    let listener = UnixListener::bind(path)?;
    let id = file_id(path)?;
    Ok(Box::new(IpcListen {
        listener,
        url: url.clone(),
        path: Some((path.to_owned(), id)),
    }))
}
