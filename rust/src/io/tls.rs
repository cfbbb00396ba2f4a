//! TLS set-up shared by every HTTPS client of the process (ours and object_store's).
//!
//! rustls runs with ring as its crypto provider (built from C and assembly by `cc`; no cmake).
//! reqwest is built without a provider of its own, so ring is installed as the process default
//! before the first client is built: [`install_crypto_provider`] is idempotent and cheap.
//! Trust roots: the system store through rustls-platform-verifier, which on Linux reads the
//! file named by `SSL_CERT_FILE` and the directories in `SSL_CERT_DIR` instead of the
//! distribution's bundle when they are set (that is how a private or self-signed CA is trusted).

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Make ring the process-wide rustls crypto provider (no-op once one is installed).
pub fn install_crypto_provider() {
    INSTALL.call_once(|| {
        // Err only when another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_ring_once() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        assert!(reqwest::Client::builder().build().is_ok());
    }
}
