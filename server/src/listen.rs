//! The listener's defences against slow and numerous clients, for HTTP and
//! HTTPS alike: a cap on open connections (past it a new connection is
//! closed at once, so the server never queues work it cannot serve), a
//! bound on the TLS handshake and on a new connection's first request head,
//! hyper's header timer for every later HTTP/1 head (it starts when a
//! kept-alive connection goes idle, so it is also HTTP/1's idle timeout),
//! and [`IdleClose`] for HTTP/2, which has no idle timeout of its own. The
//! body's own deadline is `http::deadline`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::HttpBody;
use axum::http::{Request, Response};
use axum_server::ConnectionShutdown;
use axum_server::accept::{Accept, DefaultAcceptor};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper::body::{Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

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

/// Closes a connection once no request has been open on it for the idle
/// timeout: gracefully (HTTP/2's GOAWAY), and outright if it is still
/// there after another idle timeout (a client that does not answer the
/// GOAWAY's ping holds a graceful close open forever). For HTTP/1 hyper's
/// header timer does the same; an HTTP/2 connection has no timer of its
/// own (its keep-alive pings only check that the peer is alive), so
/// without this a client could keep one with no stream open for ever.
/// A request counts as open from its head until its response body is
/// done or dropped, so a long request or a long download is never idle.
#[derive(Debug, Clone)]
pub struct IdleClose<A> {
    inner: A,
    idle: Duration,
}

impl<A> IdleClose<A> {
    pub fn new(inner: A, idle: Duration) -> Self {
        IdleClose { inner, idle }
    }
}

impl<A, I, S> Accept<I, S> for IdleClose<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = A::Stream;
    type Service = OpenRequests<A::Service>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let accepted = self.inner.accept(stream, service);
        let idle = self.idle;
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            let (activity, watched) = watch::channel(Activity::default());
            tokio::spawn(close_when_idle(watched, idle));
            Ok((stream, OpenRequests { inner: service, activity }))
        })
    }
}

/// What the idle watcher of one connection sees.
#[derive(Debug, Default)]
struct Activity {
    /// Requests open now (HTTP/2 streams; at most one on HTTP/1).
    open: usize,
    /// How to close the connection, known from its first request on (the
    /// first-request timeout bounds the time before it).
    close: Option<ConnectionShutdown>,
}

/// Waits for `idle` with no request open, then closes the connection
/// gracefully (GOAWAY on HTTP/2) and, if it is then idle for `idle` again,
/// outright (a client ignoring the GOAWAY's ping); returns when the
/// connection is gone (every sender dropped). A client may open streams
/// until it reads the GOAWAY: those are never cut, only an idle connection.
async fn close_when_idle(mut activity: watch::Receiver<Activity>, idle: Duration) {
    let close = loop {
        if !idle_for(&mut activity, idle).await {
            return;
        }
        if let Some(close) = activity.borrow().close.clone() {
            break close;
        }
        // No request yet: nothing to close it with until one comes.
        if activity.changed().await.is_err() {
            return;
        }
    };
    close.graceful_shutdown();
    if idle_for(&mut activity, idle).await {
        close.shutdown();
    }
}

/// Resolves once the connection has had no request open for `idle` without
/// a request coming or going meanwhile: `true`; `false` once it is gone.
async fn idle_for(activity: &mut watch::Receiver<Activity>, idle: Duration) -> bool {
    loop {
        if activity.wait_for(|a| a.open == 0).await.is_err() {
            return false;
        }
        tokio::select! {
            // Any request that came, even one already gone, starts the wait again.
            biased;
            changed = activity.changed() => if changed.is_err() { return false },
            () = tokio::time::sleep(idle) => return true,
        }
    }
}

/// A connection's service, counting the requests open on it for
/// [`IdleClose`].
#[derive(Debug, Clone)]
pub struct OpenRequests<S> {
    inner: S,
    activity: watch::Sender<Activity>,
}

impl<S, B> tower_service::Service<Request<Incoming>> for OpenRequests<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<CountedBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let close = request.extensions().get::<ConnectionShutdown>().cloned();
        self.activity.send_modify(|a| {
            a.open += 1;
            if a.close.is_none() {
                a.close = close;
            }
        });
        let open = OpenRequest(self.activity.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| CountedBody { inner: body, _open: open }))
        })
    }
}

/// One open request; closing it (dropping) counts it off.
#[derive(Debug)]
struct OpenRequest(watch::Sender<Activity>);

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.send_modify(|a| a.open = a.open.saturating_sub(1));
    }
}

/// A response body that keeps its request open until it is done.
#[derive(Debug)]
pub struct CountedBody<B> {
    inner: B,
    _open: OpenRequest,
}

impl<B: HttpBody + Unpin> HttpBody for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A plain HTTP server on `listener`, capped and timed by `limits`.
pub fn http(listener: std::net::TcpListener, limits: &Limits) -> io::Result<axum_server::Server<SocketAddr, IdleClose<ConnectionCap>>> {
    let acceptor = IdleClose::new(ConnectionCap::new(limits.max_connections), Duration::from_millis(limits.idle_timeout_ms));
    Ok(timed(axum_server::from_tcp(listener)?.acceptor(acceptor), limits))
}

/// An HTTPS server on `listener`: the cap is taken before the handshake,
/// which has the header timeout as its own bound.
pub fn https(
    listener: std::net::TcpListener,
    config: RustlsConfig,
    limits: &Limits,
) -> io::Result<axum_server::Server<SocketAddr, IdleClose<RustlsAcceptor<ConnectionCap>>>> {
    let tls = RustlsAcceptor::new(config)
        .handshake_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .acceptor(ConnectionCap::new(limits.max_connections));
    let acceptor = IdleClose::new(tls, Duration::from_millis(limits.idle_timeout_ms));
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
