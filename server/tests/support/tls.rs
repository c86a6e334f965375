//! HTTPS for the tests: a self-signed Ed25519 certificate for 127.0.0.1,
//! made in the test (its DER written out here, signed with ed25519-dalek,
//! which the tests already use), so they need no certificate tool, file or
//! crate of their own; and a blocking TLS client (rustls over a std socket)
//! for the attacks that speak raw bytes, run off the test's runtime.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use roster_snapshot::keys::AgentKey;
use rustls::pki_types::{CertificateDer, ServerName};

/// A certificate and its key, as the server's `--tls-cert` and `--tls-key`
/// files hold them.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
    pub key_pem: String,
}

/// One DER element: `tag`, its length, `content`.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if content.len() < 0x80 {
        out.push(content.len() as u8);
    } else {
        let length = content.len().to_be_bytes();
        let skip = length.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (length.len() - skip) as u8);
        out.extend_from_slice(&length[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// AlgorithmIdentifier of Ed25519 (OID 1.3.101.112, no parameters).
fn ed25519() -> Vec<u8> {
    sequence(&[der(0x06, &[0x2b, 0x65, 0x70])])
}

/// A bit string of whole bytes.
fn bits(bytes: &[u8]) -> Vec<u8> {
    der(0x03, &[&[0u8][..], bytes].concat())
}

/// An X.509 v3 certificate for 127.0.0.1 and localhost, valid 2020–2049,
/// issued by itself with a new Ed25519 key.
pub fn self_signed() -> SelfSigned {
    let key = AgentKey::generate().expect("a key");
    let key_pem = key.to_pkcs8_pem().expect("PKCS#8");
    let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(&key_pem).expect("the key back");
    let name = sequence(&[der(0x31, &sequence(&[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, b"roster test")]))]);
    let alt_names = sequence(&[der(0x87, &[127, 0, 0, 1]), der(0x82, b"localhost")]);
    let subject_alt_name = sequence(&[der(0x06, &[0x55, 0x1d, 0x11]), der(0x04, &alt_names)]);
    let tbs = sequence(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &[1]),
        ed25519(),
        name.clone(),
        sequence(&[der(0x17, b"200101000000Z"), der(0x17, b"491231235959Z")]),
        name,
        sequence(&[ed25519(), bits(signing.verifying_key().as_bytes())]),
        der(0xa3, &sequence(&[subject_alt_name])),
    ]);
    let signature = signing.sign(&tbs).to_bytes();
    let cert_der = sequence(&[tbs, ed25519(), bits(&signature)]);
    let body = STANDARD.encode(&cert_der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).expect("base64")).collect();
    let cert_pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"));
    SelfSigned { cert_der, cert_pem, key_pem }
}

/// A TLS stream to the test server over a blocking socket.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connects to `address` and completes a TLS handshake trusting only
/// `cert`, offering `alpn`; the error is the handshake's (for example a
/// server that closed the connection instead).
pub fn connect(address: &str, cert: &[u8], alpn: &[&[u8]], within: Duration) -> io::Result<TlsStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(cert.to_vec())).map_err(io::Error::other)?;
    let mut config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    let name = ServerName::try_from("127.0.0.1").map_err(io::Error::other)?;
    let connection = rustls::ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
    let socket = TcpStream::connect(address)?;
    socket.set_read_timeout(Some(within))?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Reads until the peer closes the connection (or resets it, or ends TLS
/// without `close_notify`); the bytes read, or `None` if it is still open
/// at `deadline`.
pub fn read_until_closed(stream: &mut TlsStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())?;
        stream.sock.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut buffer) {
            Ok(0) => return Some(received),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(received),
        }
    }
}

/// Writes `bytes` and flushes them onto the socket.
pub fn send(stream: &mut TlsStream, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes)?;
    stream.flush()
}
