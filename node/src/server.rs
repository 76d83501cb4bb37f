//! Serving gRPC over mutual TLS: our own accept loop (rustls with CRL checks) hands verified
//! connections, each carrying its [`PeerInfo`], to tonic.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use fenghuo_proto::v1::admin_server::AdminServer;
use fenghuo_proto::v1::alerts_server::AlertsServer;
use fenghuo_proto::v1::directives_server::DirectivesServer;
use fenghuo_proto::v1::disposal_server::DisposalServer;
use fenghuo_proto::v1::federation_server::FederationServer;
use fenghuo_proto::v1::intake_server::IntakeServer;
use fenghuo_proto::v1::notify_server::NotifyServer;
use fenghuo_proto::v1::overview_server::OverviewServer;
use fenghuo_proto::v1::partner_service_server::PartnerServiceServer;
use fenghuo_proto::v1::partners_server::PartnersServer;
use fenghuo_proto::v1::registry_server::RegistryServer;
use fenghuo_proto::v1::reports_server::ReportsServer;
use fenghuo_proto::v1::staff_server::StaffServer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::Connected;
use tonic::transport::Server;

use crate::api::admin::AdminService;
use crate::api::alerts::AlertsService;
use crate::api::auth::authenticate;
use crate::api::directives::DirectivesService;
use crate::api::disposal::{DisposalService, PartnerGatewayService};
use crate::api::federation::FederationService;
use crate::api::intake::IntakeService;
use crate::api::notify::NotifyService;
use crate::api::overview::OverviewService;
use crate::api::partners::PartnersService;
use crate::api::register::RegistryService;
use crate::api::reports::ReportsService;
use crate::api::staff::StaffService;
use crate::pki::standing::PeerInfo;
use crate::pki::standing::{self, Half, Standing};
use crate::pki::tls::{peer_identity, TlsState};
use crate::state::NodeState;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP/2 connection window the server advertises (see [`serve`]).
const CONNECTION_WINDOW: u32 = 8 << 20;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// tonic failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Reflection could not be set up from the descriptors.
    #[error("gRPC reflection: {0}")]
    Reflection(String),
}

/// A TLS connection whose client certificate has been verified. Once the certificate lapses
/// (see [`standing`]) and its grace is over, reads and writes fail, so nothing more from that
/// peer is read or served.
pub struct VerifiedConn {
    stream: TlsStream<TcpStream>,
    peer: PeerInfo,
    /// Dropping the connection ends its standing watcher.
    _closed: oneshot::Sender<()>,
}

impl Connected for VerifiedConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for VerifiedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(e) = self.peer.standing.poll_open(Half::Read, cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for VerifiedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Err(e) = self.peer.standing.poll_open(Half::Write, cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.peer.standing.poll_open(Half::Write, cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Err(e) = self.peer.standing.poll_open(Half::Write, cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

async fn handshake(
    tcp: TcpStream,
    tls: watch::Receiver<Arc<TlsState>>,
) -> Result<VerifiedConn, String> {
    let remote = tcp.peer_addr().ok();
    // Small request/response frames: Nagle plus delayed ACKs would add ~40 ms to each.
    let _ = tcp.set_nodelay(true);
    let config = tls.borrow().server.clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| "handshake timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let (identity, certificate) = peer_identity(stream.get_ref().1).map_err(|e| e.to_string())?;
    let peer = PeerInfo {
        identity,
        standing: Arc::new(Standing::new(&certificate)),
        certificate: Arc::new(certificate),
        remote,
    };
    let (closed_tx, closed_rx) = oneshot::channel();
    standing::watch(tls, peer.clone(), closed_rx);
    Ok(VerifiedConn {
        stream,
        peer,
        _closed: closed_tx,
    })
}

async fn accept_loop(
    listener: TcpListener,
    tls: watch::Receiver<Arc<TlsState>>,
    tx: mpsc::Sender<VerifiedConn>,
) {
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Usually out of file descriptors: pause rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if tx.is_closed() {
            break;
        }
        let tls = tls.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            match handshake(tcp, tls).await {
                Ok(conn) => {
                    tracing::debug!(peer = %conn.peer.identity, %addr, "connection accepted");
                    let _ = tx.send(conn).await;
                }
                Err(reason) => tracing::warn!(%addr, %reason, "connection refused"),
            }
        });
    }
}

/// Serves the node's gRPC API on `listener` until `shutdown` resolves. Every connection must
/// present a client certificate from the provincial CA that is not revoked.
pub async fn serve(
    listener: TcpListener,
    state: Arc<NodeState>,
    tls: watch::Receiver<Arc<TlsState>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (tx, rx) = mpsc::channel::<VerifiedConn>(256);
    let acceptor = tokio::spawn(accept_loop(listener, tls, tx));

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<RegistryServer<RegistryService>>()
        .await;
    health
        .set_serving::<FederationServer<FederationService>>()
        .await;
    health.set_serving::<AlertsServer<AlertsService>>().await;
    health.set_serving::<IntakeServer<IntakeService>>().await;
    health.set_serving::<ReportsServer<ReportsService>>().await;
    health
        .set_serving::<OverviewServer<OverviewService>>()
        .await;
    health
        .set_serving::<DirectivesServer<DirectivesService>>()
        .await;
    health.set_serving::<StaffServer<StaffService>>().await;
    health.set_serving::<NotifyServer<NotifyService>>().await;
    health
        .set_serving::<DisposalServer<DisposalService>>()
        .await;
    health
        .set_serving::<PartnerServiceServer<PartnerGatewayService>>()
        .await;
    health
        .set_serving::<PartnersServer<PartnersService>>()
        .await;
    // Both reflection versions: grpcurl and newer clients ask v1, many others (grpcio's
    // descriptor database, older tools) still ask v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(fenghuo_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let registry = InterceptedService::new(
        RegistryServer::new(RegistryService::new(state.clone())),
        authenticate,
    );
    let federation = InterceptedService::new(
        FederationServer::new(FederationService::new(state.clone()))
            .max_decoding_message_size(crate::sync::session::MAX_FRAME)
            .max_encoding_message_size(crate::sync::session::MAX_FRAME),
        authenticate,
    );
    let alerts = InterceptedService::new(
        AlertsServer::new(AlertsService::new(state.clone())),
        authenticate,
    );
    let reports = InterceptedService::new(
        ReportsServer::new(ReportsService::new(state.clone())),
        authenticate,
    );
    let directives = InterceptedService::new(
        DirectivesServer::new(DirectivesService::new(state.clone())),
        authenticate,
    );
    let overview = InterceptedService::new(
        OverviewServer::new(OverviewService::new(state.clone())),
        authenticate,
    );
    let staff = InterceptedService::new(
        StaffServer::new(StaffService::new(state.clone())),
        authenticate,
    );
    let notify = InterceptedService::new(
        NotifyServer::new(NotifyService::new(state.clone())),
        authenticate,
    );
    let disposal = InterceptedService::new(
        DisposalServer::new(DisposalService::new(state.clone())).max_decoding_message_size(8 << 20),
        authenticate,
    );
    let partner_service = InterceptedService::new(
        PartnerServiceServer::new(PartnerGatewayService::new(state.clone()))
            .max_encoding_message_size(8 << 20),
        authenticate,
    );
    let admin = InterceptedService::new(
        AdminServer::new(AdminService::new(state.clone())).max_encoding_message_size(4 << 20),
        authenticate,
    );
    let partners = InterceptedService::new(
        PartnersServer::new(PartnersService::new(state.clone())),
        authenticate,
    );
    let intake = InterceptedService::new(
        IntakeServer::new(IntakeService::new(state.clone())),
        authenticate,
    );

    let node = state.identity.path();
    let result = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(5)))
        // h2 closes a connection (ENHANCE_YOUR_CALM "too_many_data_frames") once small DATA
        // frames waiting to be read cost more than half the connection window. grpcio
        // sends a client stream's small messages as small frames, so with the 64 KiB default
        // a monitoring system streaming observations was cut off while a batch was being
        // recorded. Each stream's own window still bounds what one stream buffers.
        .initial_connection_window_size(CONNECTION_WINDOW)
        .trace_fn(move |req| {
            tracing::info_span!("grpc", node = %node, method = %req.uri().path(), caller = tracing::field::Empty)
        })
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(registry)
        .add_service(federation)
        .add_service(alerts)
        .add_service(reports)
        .add_service(directives)
        .add_service(overview)
        .add_service(staff)
        .add_service(notify)
        .add_service(partners)
        .add_service(disposal)
        .add_service(partner_service)
        .add_service(admin)
        .add_service(intake)
        .serve_with_incoming_shutdown(ReceiverStream::new(rx).map(Ok::<_, io::Error>), shutdown)
        .await;
    acceptor.abort();
    result.map_err(ServeError::from)
}
