//! The listener's defences against slow and numerous clients, for HTTP and
//! HTTPS alike: a cap on open connections (past it a new connection is
//! closed at once, so the server never queues work it cannot serve), a
//! bound on the TLS handshake and on a new connection's first request head,
//! and hyper's header timer for every later head (it starts when a
//! kept-alive connection goes idle, so it is also the idle timeout). The
//! body's own deadline is `http::deadline`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::{Accept, DefaultAcceptor};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::settings::Limits;

/// Takes one of a fixed number of permits per connection; without one,
/// refuses it (the stream is dropped, which closes it).
#[derive(Debug, Clone)]
pub struct ConnectionCap<A = DefaultAcceptor> {
    inner: A,
    permits: Arc<Semaphore>,
}

impl ConnectionCap {
    pub fn new(max_connections: usize) -> Self {
        ConnectionCap { inner: DefaultAcceptor::new(), permits: Arc::new(Semaphore::new(max_connections)) }
    }
}

impl<A, I, S> Accept<I, S> for ConnectionCap<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Capped<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            drop(stream);
            return Box::pin(std::future::ready(Err(io::Error::other("the connection cap is reached"))));
        };
        let accepted = self.inner.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((Capped { inner: stream, _permit: permit }, service))
        })
    }
}

/// A connection holding its permit until it is closed.
#[derive(Debug)]
pub struct Capped<S> {
    inner: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A plain HTTP server on `listener`, capped and timed by `limits`.
pub fn http(listener: std::net::TcpListener, limits: &Limits) -> io::Result<axum_server::Server<SocketAddr, ConnectionCap>> {
    Ok(timed(axum_server::from_tcp(listener)?.acceptor(ConnectionCap::new(limits.max_connections)), limits))
}

/// An HTTPS server on `listener`: the cap is taken before the handshake,
/// which has the header timeout as its own bound.
pub fn https(
    listener: std::net::TcpListener,
    config: RustlsConfig,
    limits: &Limits,
) -> io::Result<axum_server::Server<SocketAddr, RustlsAcceptor<ConnectionCap>>> {
    let acceptor = RustlsAcceptor::new(config)
        .handshake_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .acceptor(ConnectionCap::new(limits.max_connections));
    Ok(timed(axum_server::from_tcp(listener)?.acceptor(acceptor), limits))
}

/// A new connection's first request head must arrive within the header
/// timeout; hyper's header timer (axum-server installs the timer it needs)
/// bounds each later head from the moment the connection is idle.
fn timed<Acc>(server: axum_server::Server<SocketAddr, Acc>, limits: &Limits) -> axum_server::Server<SocketAddr, Acc> {
    let mut server = server.first_request_timeout(Duration::from_millis(limits.header_read_timeout_ms));
    server.http_builder().http1().header_read_timeout(Duration::from_millis(limits.idle_timeout_ms));
    server
}
