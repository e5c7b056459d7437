//! TLS: the rustls client configuration built from the TLS flags, the handshake for
//! `wss://`, rustls errors in words a user understands, and the server configuration
//! `listen --tls-cert/--tls-key` serves with.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    ServerConfig, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::notify::Notifier;
use super::options::ConnectOptions;
use crate::exit::{Exit, coded};

/// rustls needs a process-wide crypto provider before the first handshake.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The provider every configuration here is built with, explicitly, so that the
/// configurations do not depend on [`install_crypto_provider`] having run first.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration of one run: built on the first `wss://` dial (a `ws://`
/// run never loads a root store), then shared by every reconnect.
#[derive(Clone, Default)]
pub struct TlsCache(Arc<Mutex<Option<Arc<ClientConfig>>>>);

impl fmt::Debug for TlsCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let built = self.0.lock().map(|c| c.is_some()).unwrap_or(false);
        f.debug_struct("TlsCache").field("built", &built).finish()
    }
}

impl TlsCache {
    /// The configuration for `args`, building it (and giving the `-k` warning to
    /// `warn`, if any) the first time.
    pub fn get_or_build(
        &self,
        args: &ConnectOptions,
        warn: Option<&dyn Notifier>,
    ) -> anyhow::Result<Arc<ClientConfig>> {
        let mut slot = self
            .0
            .lock()
            .map_err(|_| anyhow::anyhow!("the TLS configuration lock was poisoned"))?;
        if let Some(config) = slot.as_ref() {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(client_config(args)?);
        if let (true, Some(warn)) = (args.insecure, warn) {
            warn.line("warning: -k/--insecure: the server's TLS certificate is not verified");
        }
        *slot = Some(Arc::clone(&config));
        Ok(config)
    }
}

/// Builds the client configuration from `--cacert`, `--cert/--key` and `-k`.
/// Unreadable or invalid files are usage errors naming the file.
pub fn client_config(args: &ConnectOptions) -> anyhow::Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("cannot set up TLS: {e}"))?;
    let builder = if args.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    } else {
        let roots = Arc::new(root_store(args.cacert.as_deref())?);
        let pinned = match args.cacert.as_deref() {
            Some(path) => load_certs(path, "--cacert")?,
            None => Vec::new(),
        };
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots,
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up TLS: {e}"))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(VerifiedOrPinned { verifier, pinned }))
    };
    match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(cert, "--cert")?;
            let key_der = load_key(key, "--key")?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                coded(
                    Exit::Usage,
                    format!(
                        "--cert {} / --key {}: {}",
                        cert.display(),
                        key.display(),
                        describe_key_error(&e)
                    ),
                )
            })
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// The system roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured), the webpki roots
/// (so a system without a CA bundle still reaches public servers), and `--cacert`.
fn root_store(cacert: Option<&Path>) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    // Unparsable system certificates are skipped, as every TLS client does: one
    // odd file in /etc/ssl/certs must not make wss:// unusable.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = cacert {
        for (index, cert) in load_certs(path, "--cacert")?.into_iter().enumerate() {
            roots.add(cert).map_err(|e| {
                coded(
                    Exit::Usage,
                    format!(
                        "--cacert {}: certificate #{} is not a usable CA certificate: {e}",
                        path.display(),
                        index + 1
                    ),
                )
            })?;
        }
    }
    Ok(roots)
}

/// Whether the server of one connection asked for a client certificate that this
/// run does not have. OpenSSL servers (Python, Node) on TLS 1.3 check it after our
/// side of the handshake is done; their refusal then reaches us as an EOF or a
/// reset while the upgrade is read, which alone says nothing.
#[derive(Debug, Clone, Default)]
pub struct CertificateAsked(Arc<AtomicBool>);

impl CertificateAsked {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// What to say when a connection whose server asked for a certificate fails.
    pub fn error(host: &str) -> anyhow::Error {
        coded(
            Exit::Connect,
            format!("TLS: {host} requires a client certificate (use --cert FILE --key FILE)"),
        )
    }
}

/// `config` for one connection: without `--cert`, one that notes in the returned
/// flag whether the server asks for a client certificate (it still presents none).
pub fn watching_certificate_request(
    config: &Arc<ClientConfig>,
    has_certificate: bool,
) -> (Arc<ClientConfig>, CertificateAsked) {
    let asked = CertificateAsked::default();
    if has_certificate {
        return (Arc::clone(config), asked);
    }
    let mut watching = ClientConfig::clone(config);
    watching.client_auth_cert_resolver = Arc::new(NoCertificate(asked.clone()));
    (Arc::new(watching), asked)
}

/// Presents no client certificate, noting that one was asked for.
#[derive(Debug)]
struct NoCertificate(CertificateAsked);

impl rustls::client::ResolvesClientCert for NoCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.0.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// The TLS handshake with `host` over an open TCP stream. Errors carry exit code 3
/// and say what went wrong in a user's words.
pub async fn handshake(
    tcp: TcpStream,
    host: &str,
    config: Arc<ClientConfig>,
) -> anyhow::Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        coded(
            Exit::Usage,
            format!("'{host}' is not a valid TLS server name"),
        )
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| coded(Exit::Connect, describe_tls_io_error(host, &e)))
}

/// A one-line summary of the negotiated session, for `-v`.
pub fn session_summary(stream: &TlsStream<TcpStream>) -> String {
    let (_, session) = stream.get_ref();
    let version = match session.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "TLS",
    };
    let suite = session
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown cipher suite");
    format!("* {version}, {suite}")
}

/// An I/O error from a TLS stream: the rustls error inside it explained, or the
/// socket error said plainly.
pub fn describe_tls_io_error(host: &str, err: &io::Error) -> String {
    if let Some(tls) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        return describe_tls_error(host, tls);
    }
    match err.kind() {
        io::ErrorKind::UnexpectedEof => {
            format!("TLS: {host} closed the connection during the TLS handshake")
        }
        io::ErrorKind::ConnectionReset => {
            format!("TLS: {host} reset the connection during the TLS handshake")
        }
        _ => format!("TLS: {}", super::ending::describe_io(err)),
    }
}

/// A rustls error in the words a user needs: what is wrong and, where there is
/// one, the flag that fixes it.
pub fn describe_tls_error(host: &str, err: &rustls::Error) -> String {
    use rustls::Error as E;
    let what = match err {
        E::InvalidCertificate(cert) => describe_certificate_error(host, cert),
        E::AlertReceived(AlertDescription::CertificateRequired) => {
            format!("{host} requires a client certificate (use --cert FILE --key FILE)")
        }
        E::AlertReceived(
            alert @ (AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied),
        ) => format!(
            "{host} refused the client certificate ({})",
            alert_words(*alert)
        ),
        E::AlertReceived(alert) => {
            format!("{host} ended the TLS handshake ({})", alert_words(*alert))
        }
        E::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            format!("{host} did not answer in TLS (is it a plain ws:// server?)")
        }
        E::NoCertificatesPresented => format!("{host} presented no certificate"),
        E::PeerIncompatible(_) => {
            format!("{host} supports no TLS version or cipher suite that wspipe does ({err})")
        }
        other => format!("TLS handshake with {host} failed: {other}"),
    };
    format!("TLS: {what}")
}

fn describe_certificate_error(host: &str, err: &CertificateError) -> String {
    use CertificateError as C;
    match err {
        C::UnknownIssuer => format!(
            "the certificate of {host} is not trusted (unknown issuer); \
             trust its CA with --cacert FILE, or skip verification with -k"
        ),
        C::Expired => format!("the certificate of {host} has expired"),
        C::ExpiredContext { time, not_after } => format!(
            "the certificate of {host} expired on {} (it is now {})",
            date(*not_after),
            date(*time)
        ),
        C::NotValidYet => format!("the certificate of {host} is not valid yet"),
        C::NotValidYetContext { time, not_before } => format!(
            "the certificate of {host} is not valid before {} (it is now {}); check the clock",
            date(*not_before),
            date(*time)
        ),
        C::NotValidForName => format!("the certificate of {host} is not valid for that name"),
        C::NotValidForNameContext { presented, .. } => {
            if presented.is_empty() {
                format!("the certificate of {host} names no host, so it is not valid for {host}")
            } else {
                let names: Vec<&str> = presented.iter().map(|n| bare_name(n)).collect();
                format!(
                    "the certificate is not valid for {host} (it is for {})",
                    names.join(", ")
                )
            }
        }
        C::Revoked => format!("the certificate of {host} has been revoked"),
        C::BadSignature => format!("the certificate of {host} has an invalid signature"),
        C::BadEncoding => format!("the certificate of {host} is malformed"),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            format!("the certificate of {host} is not meant for a TLS server")
        }
        other if format!("{other:?}").contains("CaUsedAsEndEntity") => format!(
            "the certificate of {host} is a CA certificate (CA:TRUE) used as the server's own, \
             as `openssl req -x509` makes them; to trust it, pass that very certificate with \
             --cacert FILE, or skip verification with -k"
        ),
        other => format!("the certificate of {host} was rejected: {other:?}"),
    }
}

/// rustls presents names as `DnsName("example.com")` or `IpAddress(10.0.0.1)`;
/// a user wants `example.com` and `10.0.0.1`.
fn bare_name(presented: &str) -> &str {
    presented
        .split_once('(')
        .and_then(|(_, inner)| inner.strip_suffix(')'))
        .map(|inner| inner.trim_matches('"'))
        .unwrap_or(presented)
}

fn alert_words(alert: AlertDescription) -> String {
    // `BadCertificate` -> "bad certificate".
    let name = format!("{alert:?}");
    let mut words = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            words.push(' ');
        }
        previous_lower = c.is_ascii_lowercase();
        words.push(c.to_ascii_lowercase());
    }
    words
}

/// `YYYY-MM-DD` (UTC) for a certificate time.
fn date(time: UnixTime) -> String {
    let days = (time.as_secs() / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn describe_key_error(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InconsistentKeys(_) => "the key does not belong to the certificate".into(),
        other => other.to_string(),
    }
}

/// The server configuration for `listen --tls-cert/--tls-key` (PEM files), also
/// what the tests serve with. An unreadable or unusable file is a usage error
/// naming the file.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let bad = |path: &Path, why: String| {
        coded(Exit::Usage, format!("cannot use {}: {why}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(cert, server_pem_reason(e)))?;
    if certs.is_empty() {
        return Err(bad(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, server_pem_reason(e)))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| bad(key, format!("does not fit the certificate ({e})")))?;
    Ok(Arc::new(config))
}

fn server_pem_reason(e: pem::Error) -> String {
    match e {
        pem::Error::Io(e) if e.kind() == io::ErrorKind::NotFound => "no such file".into(),
        pem::Error::Io(e) => super::ending::describe_io(&e),
        pem::Error::NoItemsFound => "no PEM item of the expected kind in the file".into(),
        other => format!("not valid PEM ({other})"),
    }
}

/// Every certificate in a PEM file; none at all is an error too.
pub fn load_certs(path: &Path, flag: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bad = |reason: String| coded(Exit::Usage, format!("{flag} {}: {reason}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(describe_pem_error(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(describe_pem_error(&e)))?;
    if certs.is_empty() {
        return Err(bad(
            "no PEM certificate (BEGIN CERTIFICATE) in the file".into()
        ));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_key(path: &Path, flag: &str) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        let reason = match e {
            pem::Error::NoItemsFound => "no PEM private key (BEGIN PRIVATE KEY) in the file".into(),
            other => describe_pem_error(&other),
        };
        coded(Exit::Usage, format!("{flag} {}: {reason}", path.display()))
    })
}

fn describe_pem_error(err: &pem::Error) -> String {
    match err {
        pem::Error::Io(e) => match e.kind() {
            io::ErrorKind::NotFound => "no such file".into(),
            io::ErrorKind::PermissionDenied => "permission denied".into(),
            _ => format!("cannot read the file: {e}"),
        },
        pem::Error::NoItemsFound => "nothing usable in the file".into(),
        other => format!("not a valid PEM file ({other})"),
    }
}

/// Full verification, except that a server certificate that is byte for byte one
/// of the `--cacert` certificates is trusted as it is (pinned), provided it names
/// the host: a self-signed certificate made the usual way (`openssl req -x509`)
/// says CA:TRUE, and webpki refuses a CA certificate as a server's own
/// (CaUsedAsEndEntity), while curl and Python accept it.
#[derive(Debug)]
struct VerifiedOrPinned {
    verifier: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for VerifiedOrPinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.verifier.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verified {
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.supported_verify_schemes()
    }
}

/// `-k`: accepts any certificate. Handshake signatures are still checked, so the
/// session is at least with whoever holds the presented key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(
            date(UnixTime::since_unix_epoch(std::time::Duration::ZERO)),
            "1970-01-01"
        );
        let t = UnixTime::since_unix_epoch(std::time::Duration::from_secs(951_782_400));
        assert_eq!(date(t), "2000-02-29");
        let t = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_795_564_800));
        assert_eq!(date(t), "2026-11-25");
    }

    #[test]
    fn presented_names_lose_their_wrappers() {
        assert_eq!(bare_name("DnsName(\"a.test\")"), "a.test");
        assert_eq!(bare_name("IpAddress(10.9.8.7)"), "10.9.8.7");
        assert_eq!(bare_name("plain"), "plain");
    }

    #[test]
    fn alerts_read_as_words() {
        assert_eq!(
            alert_words(AlertDescription::BadCertificate),
            "bad certificate"
        );
        assert_eq!(alert_words(AlertDescription::UnknownCA), "unknown ca");
    }

    #[test]
    fn missing_pem_file_is_a_usage_error_naming_it() {
        let err = load_certs(Path::new("/nonexistent/ca.pem"), "--cacert").unwrap_err();
        assert_eq!(crate::exit::exit_code_of(&err), Exit::Usage);
        assert_eq!(
            err.to_string(),
            "--cacert /nonexistent/ca.pem: no such file"
        );
    }

    #[test]
    fn a_file_without_certificates_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.pem");
        std::fs::write(&path, "hello\n").unwrap();
        let err = load_certs(&path, "--cacert").unwrap_err();
        assert_eq!(crate::exit::exit_code_of(&err), Exit::Usage);
        assert!(
            err.to_string()
                .ends_with("no PEM certificate (BEGIN CERTIFICATE) in the file")
        );
        let err = load_key(&path, "--key").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("no PEM private key (BEGIN PRIVATE KEY) in the file")
        );
    }
}
