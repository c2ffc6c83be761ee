//! TLS settings for the `tls+tcp://` cells: one self-signed certificate for `localhost`,
//! made at run time, trusted by both sides.

use std::path::PathBuf;
use std::sync::OnceLock;

use sp_net::transport::tls::TlsConfig;

use crate::harness::Side;

/// The certificate of a run, as PEM text and as a file (`cert.pem`: certificate then
/// key, the form NNG's `tls-cert-key-file` wants).
#[derive(Debug)]
pub struct Identity {
    /// The certificate (PEM).
    pub cert: String,
    /// Its private key (PEM, PKCS#8).
    pub key: String,
    /// A file holding the certificate followed by the key.
    pub file: PathBuf,
}

static IDENTITY: OnceLock<Result<Identity, String>> = OnceLock::new();

/// The run's certificate, made on first use.
pub fn identity() -> Result<&'static Identity, String> {
    IDENTITY
        .get_or_init(|| {
            let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
                .map_err(|e| format!("cannot make a certificate: {e}"))?;
            let (cert, key) = (made.cert.pem(), made.key_pair.serialize_pem());
            let file = std::env::temp_dir().join(format!(
                "sp-conformance-{}-cert-key.pem",
                std::process::id()
            ));
            std::fs::write(&file, format!("{cert}{key}"))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            Ok(Identity { cert, key, file })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Gives `side` the run's certificate to listen with and trusts it when dialing
/// (verifying the name `localhost`, since the URLs say 127.0.0.1).
pub async fn configure(side: &mut Side) -> Result<(), String> {
    let id = identity()?;
    match side {
        Side::Ours(s) => {
            let tls = TlsConfig::from_pem(
                Some(id.cert.as_bytes()),
                Some(id.key.as_bytes()),
                Some(id.cert.as_bytes()),
                false,
            )
            .map_err(|e| e.to_string())?
            .with_server_name("localhost");
            s.set_tls(tls);
            Ok(())
        }
        Side::C(p) => {
            let path = id.file.display().to_string();
            for opt in ["tls-cert-key-file", "tls-ca-file"] {
                p.opt(opt, &path)
                    .await
                    .map_err(|e| format!("{}: {opt}: {e}", p.name()))?;
            }
            Ok(())
        }
    }
}

/// Whether the peer's library was built with TLS (the `has-tls` command: NNG answers from
/// `nng_tls_config_alloc`, which fails with ENOTSUP in a build without TLS; libnanomsg
/// has none).
pub async fn peer_has_tls(p: &mut crate::harness::Peer) -> Result<bool, String> {
    match p.call("has-tls").await {
        Ok(a) => Ok(a == "yes"),
        Err(e) => Err(format!("{}: has-tls: {e}", p.name())),
    }
}
