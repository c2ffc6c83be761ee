//! TLS (`tls+tcp://`): the SP TCP mapping inside a rustls session. The TCP connection
//! comes from the [`Network`](super::Network), so TLS also runs over simulated networks.

use std::io;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::Conn;

/// TLS settings of a socket: a server side for listeners, a client side for dialers.
#[derive(Clone)]
pub struct TlsConfig {
    server: Option<Arc<rustls::ServerConfig>>,
    client: Arc<rustls::ClientConfig>,
    server_name: Option<String>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server", &self.server.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

pub use crate::error::TlsError;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Missing("certificate"));
    }
    Ok(certs)
}

impl TlsConfig {
    /// Builds settings from PEM data.
    ///
    /// - `cert_chain` and `key`: this side's certificate chain and private key, needed to
    ///   listen (and presented by dialers when given).
    /// - `ca`: certificates trusted to verify the peer's; with `None` a dialer trusts
    ///   nothing, so give a CA or set `insecure`.
    /// - `insecure`: dialers skip verifying the server (nngcat's `--insecure`).
    pub fn from_pem(
        cert_chain: Option<&[u8]>,
        key: Option<&[u8]>,
        ca: Option<&[u8]>,
        insecure: bool,
    ) -> Result<Self, TlsError> {
        let identity = match (cert_chain, key) {
            (Some(c), Some(k)) => {
                let key =
                    PrivateKeyDer::from_pem_slice(k).map_err(|e| TlsError::Pem(e.to_string()))?;
                Some((certs(c)?, key))
            }
            (None, None) => None,
            (None, Some(_)) => return Err(TlsError::Missing("certificate")),
            (Some(_), None) => return Err(TlsError::Missing("private key")),
        };
        let server = match &identity {
            Some((chain, key)) => Some(Arc::new(
                rustls::ServerConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()?
                    .with_no_client_auth()
                    .with_single_cert(chain.clone(), key.clone_key())?,
            )),
            None => None,
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let client = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            if let Some(ca) = ca {
                for c in certs(ca)? {
                    roots.add(c)?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(Self {
            server,
            client: Arc::new(client),
            server_name: None,
        })
    }

    /// Verifies the server against `name` instead of the URL's host.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Whether listeners can be started (a certificate and key were given).
    pub fn can_listen(&self) -> bool {
        self.server.is_some()
    }

    /// Runs the client handshake on `conn`.
    pub(crate) async fn connect(&self, conn: Conn, host: &str) -> io::Result<Conn> {
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = ServerName::try_from(name.to_owned()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad TLS server name {name:?}: {e}"),
            )
        })?;
        let stream = TlsConnector::from(self.client.clone())
            .connect(name, conn.io)
            .await?;
        Ok(Conn {
            io: Box::new(stream),
            peer: conn.peer,
        })
    }

    /// Runs the server handshake on `conn`.
    pub(crate) async fn accept(&self, conn: Conn) -> io::Result<Conn> {
        let server = self.server.clone().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS listener needs a certificate and key",
            )
        })?;
        let stream = TlsAcceptor::from(server).accept(conn.io).await?;
        Ok(Conn {
            io: Box::new(stream),
            peer: conn.peer,
        })
    }
}

/// Accepts any server certificate (`insecure`), still checking handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
