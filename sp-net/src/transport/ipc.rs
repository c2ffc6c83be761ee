//! IPC: Unix domain stream sockets, with stale socket files removed at bind.

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use super::{BoxFuture, Conn, Listener};
use crate::url::Url;

fn into_conn(stream: UnixStream, path: &Path) -> Conn {
    Conn {
        io: Box::new(stream),
        peer: path.display().to_string(),
    }
}

/// Connects to the socket file at `path`.
pub(crate) async fn connect(path: &Path) -> io::Result<Conn> {
    let s = UnixStream::connect(path).await?;
    Ok(into_conn(s, path))
}

struct IpcListen {
    listener: UnixListener,
    url: Url,
    path: PathBuf,
}

impl Listener for IpcListen {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
        Box::pin(async move {
            let (s, _) = self.listener.accept().await?;
            Ok(into_conn(s, &self.path))
        })
    }

    fn local_url(&self) -> Url {
        self.url.clone()
    }
}

impl Drop for IpcListen {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
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
    Ok(Box::new(IpcListen {
        listener,
        url: url.clone(),
        path: path.to_owned(),
    }))
}
