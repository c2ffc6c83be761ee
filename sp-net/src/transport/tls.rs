//! TLS (`tls+tcp://`): the SP TCP mapping inside a rustls session. The TCP connection
//! comes from the [`Network`](super::Network), so TLS also runs over simulated networks.

use std::io;
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::Conn;

/// TLS settings of a socket: a server side for listeners, a client side for dialers.
///
/// Clones share one identity (certificate chain and key):
/// [`set_identity_pem`](Self::set_identity_pem) on any clone, including one kept after
/// [`Socket::set_tls`](crate::Socket::set_tls), changes what every listener and dialer
/// using these settings presents in its next handshakes.
#[derive(Clone)]
pub struct TlsConfig {
    identity: Arc<Identity>,
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    roots: Option<Arc<rustls::RootCertStore>>,
    server_name: Option<String>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("identity", &self.can_listen())
            .field("server_name", &self.server_name)
            .finish()
    }
}

pub use crate::error::TlsError;

/// Whether a listener asks its clients for a certificate (mutual TLS), verified against
/// the CA certificates of its settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// No certificate is requested (the default, as NNG's listeners).
    #[default]
    None,
    /// A certificate is requested; a client without one is accepted, and one whose
    /// certificate does not verify is refused.
    Optional,
    /// Only clients presenting a certificate that verifies are accepted.
    Required,
}

/// The certificate chain a TLS peer presented, end-entity certificate first, each
/// certificate in DER. Read it per pipe with
/// [`Socket::peer_certificates`](crate::Socket::peer_certificates) or from
/// [`PipeEvent::Added`](crate::stats::PipeEvent::Added), to authorize a peer by its
/// certificate (parse it with an X.509 crate such as `x509-parser`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificates(Arc<[CertificateDer<'static>]>);

impl PeerCertificates {
    /// The peer's own (end-entity) certificate.
    pub fn end_entity(&self) -> &CertificateDer<'static> {
        &self.0[0]
    }

    /// The whole chain as the peer sent it, end-entity first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.0
    }

    /// The chain a finished handshake holds, if the peer presented one.
    fn of(conn: &rustls::CommonState) -> Option<Self> {
        match conn.peer_certificates() {
            Some(chain) if !chain.is_empty() => {
                Some(Self(chain.iter().map(|c| c.clone().into_owned()).collect()))
            }
            _ => None,
        }
    }
}

/// This side's certificate chain and key, replaceable while in use: rustls asks it for
/// the current one at every handshake, as a server and as a client.
#[derive(Debug)]
struct Identity {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl Identity {
    fn get(&self) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(key);
    }
}

impl rustls::server::ResolvesServerCert for Identity {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.get()
    }
}

impl rustls::client::ResolvesClientCert for Identity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.get()
    }

    fn has_certs(&self) -> bool {
        self.get().is_some()
    }
}

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

/// A certificate chain and its private key from PEM, checked to belong together.
fn certified_key(cert_chain: &[u8], key: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::Pem(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::from_der(
        certs(cert_chain)?,
        key,
        &provider(),
    )?))
}

fn server_config(
    identity: &Arc<Identity>,
    verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(builder.with_cert_resolver(identity.clone())))
}

impl TlsConfig {
    /// Builds settings from PEM data.
    ///
    /// - `cert_chain` and `key`: this side's certificate chain and private key, needed to
    ///   listen, and presented by dialers to listeners that ask for one (see
    ///   [`ClientAuth`]). Replaceable later with [`set_identity_pem`](Self::set_identity_pem).
    /// - `ca`: certificates trusted to verify the peer's; with `None` a dialer trusts
    ///   nothing, so give a CA or set `insecure`.
    /// - `insecure`: dialers skip verifying the server (nngcat's `--insecure`).
    pub fn from_pem(
        cert_chain: Option<&[u8]>,
        key: Option<&[u8]>,
        ca: Option<&[u8]>,
        insecure: bool,
    ) -> Result<Self, TlsError> {
        let identity = Arc::new(Identity {
            current: RwLock::new(match (cert_chain, key) {
                (Some(c), Some(k)) => Some(certified_key(c, k)?),
                (None, None) => None,
                (None, Some(_)) => return Err(TlsError::Missing("certificate")),
                (Some(_), None) => return Err(TlsError::Missing("private key")),
            }),
        });
        let roots = match ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in certs(ca)? {
                    roots.add(c)?;
                }
                Some(Arc::new(roots))
            }
            None => None,
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let client = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
                .with_client_cert_resolver(identity.clone())
        } else {
            let roots = roots
                .clone()
                .unwrap_or_else(|| Arc::new(rustls::RootCertStore::empty()));
            builder
                .with_root_certificates(roots)
                .with_client_cert_resolver(identity.clone())
        };
        Ok(Self {
            server: server_config(&identity, None)?,
            identity,
            client: Arc::new(client),
            roots,
            server_name: None,
        })
    }

    /// Verifies the server against `name` instead of the URL's host.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Makes listeners ask clients for a certificate and verify it against the CA
    /// certificates given to [`from_pem`](Self::from_pem) (an error without them).
    /// Whatever the mode, the verified chain is readable per pipe
    /// ([`PeerCertificates`]) for finer authorization.
    pub fn with_client_auth(mut self, mode: ClientAuth) -> Result<Self, TlsError> {
        let verifier = match mode {
            ClientAuth::None => None,
            ClientAuth::Optional | ClientAuth::Required => {
                let roots = self
                    .roots
                    .clone()
                    .ok_or(TlsError::Missing("CA certificate to verify clients with"))?;
                let builder =
                    rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider());
                let builder = match mode {
                    ClientAuth::Optional => builder.allow_unauthenticated(),
                    _ => builder,
                };
                Some(
                    builder
                        .build()
                        .map_err(|e| TlsError::Verifier(e.to_string()))?,
                )
            }
        };
        self.server = server_config(&self.identity, verifier)?;
        Ok(self)
    }

    /// Replaces this side's certificate chain and private key (PEM), for certificate
    /// rotation without restarting anything: listeners serve the new chain, and dialers
    /// present it, from their next handshake on; established pipes stay up. Every clone
    /// of these settings sees the change. A chain and key that do not belong together
    /// are refused and the current identity stays.
    pub fn set_identity_pem(&self, cert_chain: &[u8], key: &[u8]) -> Result<(), TlsError> {
        self.identity.set(certified_key(cert_chain, key)?);
        Ok(())
    }

    /// Whether listeners can be started (a certificate and key were given).
    pub fn can_listen(&self) -> bool {
        self.identity.get().is_some()
    }

    /// Runs the client handshake on `conn`; the connection then carries the server's
    /// certificates.
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
        let certificates = PeerCertificates::of(stream.get_ref().1);
        Ok(Conn {
            io: Box::new(stream),
            peer: conn.peer,
            peer_certificates: certificates,
        })
    }

    /// Runs the server handshake on `conn`; the connection then carries the client's
    /// certificates, if it presented any.
    pub(crate) async fn accept(&self, conn: Conn) -> io::Result<Conn> {
        if !self.can_listen() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS listener needs a certificate and key",
            ));
        }
        let stream = TlsAcceptor::from(self.server.clone())
            .accept(conn.io)
            .await?;
        let certificates = PeerCertificates::of(stream.get_ref().1);
        Ok(Conn {
            io: Box::new(stream),
            peer: conn.peer,
            peer_certificates: certificates,
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
