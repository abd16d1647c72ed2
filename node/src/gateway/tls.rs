//! HTTPS for the gateway (seed 004 §5): rustls with the ring provider,
//! HTTP/2 and HTTP/1.1 by ALPN. The certificate chain and the private key
//! are PEM files named by `gateway.tls_cert` and `gateway.tls_key`; the
//! config check builds the server configuration once, so a file that is
//! missing, holds no certificate or key, or whose key does not belong to the
//! certificate stops the node at start, naming the option.

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

fn pem_error(option: &str, path: &Path, what: &str, e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => format!("`{option}` {}: no {what} in the file (PEM expected)", path.display()),
        pem::Error::Io(e) => format!("`{option}` {}: cannot read: {e}", path.display()),
        e => format!("`{option}` {}: not a PEM {what}: {e:?}", path.display()),
    }
}

/// The rustls server configuration for a certificate chain and its key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error("gateway.tls_cert", cert, "certificate", e))?;
    if certs.is_empty() {
        return Err(pem_error("gateway.tls_cert", cert, "certificate", pem::Error::NoItemsFound));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error("gateway.tls_key", key, "private key", e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| format!("`gateway.tls_key` {} does not go with `gateway.tls_cert` {}: {e}", key.display(), cert.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
