//! TLS to the broker with rustls on ring (pure Rust plus ring's C and assembly, which the
//! plain cross gcc builds for aarch64 and armv7; no aws-lc-sys): the broker's certificate
//! is verified against `mqtt.tls.ca_file` under `mqtt.tls.server_name` (default the
//! host), and `cert_file`/`key_file` give a client certificate when set.

use super::MqttError;
use crate::config::mqtt::MqttTlsConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// The rustls client configuration for `tls`, connecting to `host`.
pub(super) fn client_config(tls: &MqttTlsConfig, host: &str) -> Result<ClientConfig, MqttError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in read_certs("ca_file", &tls.ca_file)? {
        roots.add(cert).map_err(|e| MqttError::TlsFile {
            key: "ca_file",
            path: tls.ca_file.clone(),
            problem: format!("not a usable CA certificate: {e}"),
        })?;
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| MqttError::Tls(format!("cannot build the certificate verifier: {e}")))?;
    let name = tls.server_name.as_deref().unwrap_or(host);
    let server_name = ServerName::try_from(name.to_owned()).map_err(|_| {
        MqttError::Tls(format!(
            "'{name}' (mqtt.tls.server_name, default mqtt.host) is not a DNS name or IP address"
        ))
    })?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MqttError::Tls(format!("no usable TLS version: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NamedServerVerifier {
            inner: verifier,
            name: server_name,
        }));
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let certs = read_certs("cert_file", cert_file)?;
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| MqttError::TlsFile {
                key: "key_file",
                path: key_file.clone(),
                problem: format!("no PEM private key: {e}"),
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| MqttError::Tls(format!("client certificate and key: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Every PEM certificate in `path`; at least one.
fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    let problem = |problem: String| MqttError::TlsFile {
        key,
        path: path.to_owned(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| problem(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(problem("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// Web PKI verification against our CAs, under the configured server name rather than
/// the one rumqttc derives from the host it connects to.
#[derive(Debug)]
struct NamedServerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _connected_to: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        for path in [dir.path().join("absent.pem"), empty] {
            let tls = MqttTlsConfig {
                ca_file: path.clone(),
                cert_file: None,
                key_file: None,
                server_name: None,
            };
            let e = client_config(&tls, "broker").unwrap_err().to_string();
            assert!(e.contains("mqtt.tls.ca_file"), "{e}");
            assert!(e.contains(&path.display().to_string()), "{e}");
        }
    }
}
