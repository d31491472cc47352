//! Running the simulator: the TCP accept loop, per-connection HTTP/1.1 serving with a kill
//! switch, [`Simulator::start`] / [`SimulatorHandle`], and [`serve_until_killed`] for the
//! `simulate` command.
//!
//! Connections are served by hyper directly rather than through `axum::serve` because the
//! record-then-drop fault must be able to close one connection without writing a single byte:
//! each connection task races hyper's connection future against a [`ConnControl`] that the
//! handler can trigger, and dropping the losing future closes the socket.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use super::config::SimConfig;
use super::faults::ConnControl;
use super::routes::router;
use super::state::{RecordedRequest, SimState, bump};

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Serves `config` on an ephemeral port of 127.0.0.1.
    pub async fn start(config: SimConfig) -> io::Result<SimulatorHandle> {
        Simulator::start_on(config, 0).await
    }

    /// Serves `config` on `port` of 127.0.0.1 (0 picks a free port). Fails with
    /// `InvalidInput` when the config does not pass [`SimConfig::validate`].
    pub async fn start_on(config: SimConfig, port: u16) -> io::Result<SimulatorHandle> {
        config
            .validate()
            .map_err(|problem| io::Error::new(io::ErrorKind::InvalidInput, problem))?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(SimState::new(config));
        let app = router(Arc::clone(&state));
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), app));
        Ok(SimulatorHandle { addr, state, task })
    }
}

/// A running simulator. Dropping it stops the server, like [`SimulatorHandle::shutdown`] does.
pub struct SimulatorHandle {
    addr: SocketAddr,
    state: Arc<SimState>,
    task: JoinHandle<()>,
}

impl SimulatorHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The simulator's state, which outlives the server.
    pub fn state(&self) -> Arc<SimState> {
        Arc::clone(&self.state)
    }

    /// Stops accepting, closes every open connection (hung requests included) and waits until
    /// the listening socket is closed.
    pub async fn shutdown(mut self) {
        self.task.abort();
        // The only possible error is the cancellation just requested.
        let _ = (&mut self.task).await;
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        // Aborting the accept task drops its `JoinSet`, which aborts every connection task.
        self.task.abort();
    }
}

/// Accepts connections until the task is aborted. Connection tasks live in a `JoinSet` owned
/// by this task, so aborting it tears every connection down too.
async fn accept_loop(listener: TcpListener, state: Arc<SimState>, app: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&state), app.clone()));
                }
                // Running out of file descriptors is the usual cause; waiting a little lets
                // finished connections release theirs instead of spinning on the error.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            // Reaps finished connections so that the set does not grow over a long run.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<SimState>, app: Router) {
    // Answers are small and latency is simulated on purpose; Nagle would only add more.
    let _ = stream.set_nodelay(true);
    let control = ConnControl::new();
    let watch = control.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        handle(Arc::clone(&state), app.clone(), control.clone(), request)
    });
    let mut builder = http1::Builder::new();
    // No header-read timeout: closing an idle keep-alive connection from the server side
    // races with a client that is just reusing it, which would look like a dropped request
    // that the simulator never injected.
    builder.keep_alive(true).header_read_timeout(None);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = watch.dropped() => {}
    }
}

/// Largest body buffered before a request is handed to its handler; the handlers refuse
/// anything above 1 MiB themselves, with Atlas's answer.
const MAX_BUFFERED_BODY: usize = 2 << 20;

/// Serves one request the way a real server does: the whole request is read first, then the
/// work runs on a task of its own, which goes on (latency, recording the invitation) even when
/// the client has given up and closed the connection. A client that times out therefore cannot
/// assume that its request was not acted on, which is exactly what Atlas does to it.
async fn handle(
    state: Arc<SimState>,
    app: Router,
    control: ConnControl,
    request: hyper::Request<Incoming>,
) -> Result<Response, std::convert::Infallible> {
    bump(&state.counters.requests);
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(Body::new(body), MAX_BUFFERED_BODY).await {
        Ok(bytes) => {
            state.record(|| {
                let header = |name| {
                    parts
                        .headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                RecordedRequest {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    content_type: header(axum::http::header::CONTENT_TYPE),
                    accept: header(axum::http::header::ACCEPT),
                    body: bytes.to_vec(),
                }
            });
            Body::from(bytes)
        }
        // Too large or cut off: the handler's own body check answers it.
        Err(_) => Body::from_stream(futures::stream::once(async {
            Err::<bytes::Bytes, io::Error>(io::Error::other("request body could not be read"))
        })),
    };
    let work = tokio::spawn(app.oneshot(Request::from_parts(parts, body)));
    let response = match work.await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => return Ok(hung_up()),
    };
    if ConnControl::wants_drop(&response) {
        // Never completing keeps hyper from writing a byte; the connection task sees the
        // signal and drops the connection with this future.
        control.drop_connection();
        std::future::pending::<()>().await;
    }
    Ok(response)
}

/// What a handler task that panicked or was cancelled answers: a bare 500, as a crashed
/// server's front end would.
fn hung_up() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// Runs a simulator on 127.0.0.1:`port` until Ctrl-C or SIGTERM. The first line on stdout is
/// the base URL (flushed at once, so a parent process can read it); a description of the
/// configuration goes to stderr.
pub async fn serve_until_killed(config: SimConfig, port: u16) -> anyhow::Result<()> {
    let description = config.describe();
    let handle = Simulator::start_on(config, port)
        .await
        .with_context(|| format!("cannot start the Atlas simulator on port {port}"))?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", handle.base_url())?;
        out.flush()?;
    }
    eprintln!(
        "Atlas simulator listening on {} (invite paths /api/atlas/v2/orgs/{{orgId}}/invites \
         and /api/atlas/v1.0/orgs/{{orgId}}/invites)\n{description}",
        handle.base_url()
    );
    termination().await?;
    let stats = handle.state().stats();
    eprintln!(
        "Atlas simulator stopping: {} requests, {} invitations created, {} rate-limited, \
         {} server errors, {} dropped, {} hung",
        stats.requests,
        stats.created,
        stats.rate_limited,
        stats.server_errors,
        stats.dropped,
        stats.hung
    );
    handle.shutdown().await;
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM where there is such a thing.
async fn termination() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}
