//! A throwaway PKI for TLS tests: a CA and leaf certificates made with rcgen at
//! test time, written as PEM files into a temporary directory.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tempfile::TempDir;

/// A certificate and its key, as PEM files on disk.
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What a leaf certificate is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Server,
    Client,
}

/// A CA whose certificate is at [`Pki::ca_pem`], able to issue leaves.
pub struct Pki {
    dir: TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    pub ca_pem: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "wspipe test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&ca_pem, ca.pem()).unwrap();
        Pki { dir, ca, ca_pem }
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server_leaf(&self) -> Leaf {
        self.leaf("server", &["localhost", "127.0.0.1"], Use::Server, |_| {})
    }

    /// A leaf for these names, signed by the CA; `adjust` may change the
    /// parameters (validity, for instance) before signing.
    pub fn leaf(
        &self,
        name: &str,
        sans: &[&str],
        usage: Use,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![match usage {
            Use::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Use::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        adjust(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let leaf = Leaf {
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}.key")),
        };
        std::fs::write(&leaf.cert, cert.pem()).unwrap();
        std::fs::write(&leaf.key, key.serialize_pem()).unwrap();
        leaf
    }

    /// A path in the PKI's directory, for files a test writes itself.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server configuration that serves `leaf` and demands a client
    /// certificate issued by this CA.
    pub fn server_config_requiring_client_cert(&self, leaf: &Leaf) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&self.ca_pem).unwrap())
            .unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .unwrap();
        let chain = CertificateDer::pem_file_iter(&leaf.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&leaf.key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        Arc::new(config)
    }
}

impl Leaf {
    /// The plain server configuration for this leaf, loaded the way
    /// `wspipe listen --tls-cert/--tls-key` loads it.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        wspipe::conn::tls::server_config(&self.cert, &self.key).unwrap()
    }

    pub fn cert_str(&self) -> &str {
        self.cert.to_str().unwrap()
    }

    pub fn key_str(&self) -> &str {
        self.key.to_str().unwrap()
    }
}
