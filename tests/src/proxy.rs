//! A fault-injecting TCP proxy for one sync link: the dialling node's config points at the
//! proxy, the proxy forwards to wherever the dialled node listens now.
//!
//! - [`FaultProxy::retarget`] follows a node that restarted on a new port (`None` while it is
//!   down: connections are then closed at once, as a dead host would refuse them);
//! - [`FaultProxy::cut`] closes every connection through the proxy and refuses new ones (they
//!   are accepted and closed at once, so the dialler sees a failed handshake and backs off)
//!   until [`FaultProxy::heal`].
//!
//! Plain threads and blocking sockets: a proxy carries one link, so a handful of connections,
//! and must keep working while a test thread blocks on a child process.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Dialling the target gives up after this long (it is on loopback).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One forwarded connection: both sockets, so a cut can shut them down.
#[derive(Debug)]
struct Pair {
    /// Numbers the pair, so a finished pump removes its own.
    id: u64,
    /// From the dialling node.
    client: TcpStream,
    /// To the target node.
    server: TcpStream,
}

impl Pair {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

/// What the acceptor and the pumps share with the handle.
#[derive(Debug, Default)]
struct Shared {
    /// Where connections go now; `None` refuses them.
    target: Mutex<Option<SocketAddr>>,
    /// While set, no connection passes.
    cut: AtomicBool,
    /// Set on drop: the acceptor stops.
    stopped: AtomicBool,
    /// Connections being forwarded.
    live: Mutex<Vec<Pair>>,
    /// Next pair id.
    next_id: AtomicU64,
    /// Connections forwarded since the start, for diagnostics.
    forwarded: AtomicU64,
    /// Connections refused (cut, no target, target down), for diagnostics.
    refused: AtomicU64,
}

impl Shared {
    fn close_all(&self) {
        let pairs = std::mem::take(&mut *self.live.lock().unwrap_or_else(|p| p.into_inner()));
        for p in &pairs {
            p.close();
        }
    }

    fn remove(&self, id: u64) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = live.iter().position(|p| p.id == id) {
            live.swap_remove(i).close();
        }
    }
}

/// A TCP proxy on a loopback port the OS picked; stops (closing every connection) on drop.
#[derive(Debug)]
pub struct FaultProxy {
    /// For messages: "510104→510105".
    name: String,
    /// Where nodes dial.
    addr: SocketAddr,
    /// State shared with the threads.
    shared: Arc<Shared>,
    /// The accept loop.
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy that refuses everything until [`FaultProxy::retarget`] names a target.
    pub fn start(name: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a proxy port");
        let addr = listener
            .local_addr()
            .expect("the proxy has no local address");
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("proxy {name}"))
            .spawn(move || accept_loop(&listener, &s))
            .expect("cannot start the proxy thread");
        Self {
            name: name.to_owned(),
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// "510104→510105".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address nodes are configured to dial.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forwards new connections to `target` from now on (`None`: refuse them). Connections
    /// already forwarded stay as they are: they end with the process they reach.
    pub fn retarget(&self, target: Option<SocketAddr>) {
        *self.shared.target.lock().unwrap_or_else(|p| p.into_inner()) = target;
    }

    /// Closes every connection through the link and refuses new ones until [`Self::heal`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        self.shared.close_all();
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// Connections currently forwarded.
    pub fn live_connections(&self) -> usize {
        self.shared
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Connections forwarded since the start.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Connections refused since the start.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the blocking accept; it sees `stopped` and returns.
        let _ = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT);
        self.shared.close_all();
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = incoming else {
            continue;
        };
        let target = *shared.target.lock().unwrap_or_else(|p| p.into_inner());
        let server = match target {
            Some(t) if !shared.cut.load(Ordering::SeqCst) => {
                TcpStream::connect_timeout(&t, CONNECT_TIMEOUT).ok()
            }
            _ => None,
        };
        let Some(server) = server else {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        if let Err(e) = forward(client, server, shared) {
            eprintln!("fault proxy: cannot forward a connection: {e}");
        }
    }
}

fn forward(client: TcpStream, server: TcpStream, shared: &Arc<Shared>) -> io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let pair = Pair {
        id,
        client: client.try_clone()?,
        server: server.try_clone()?,
    };
    {
        let mut live = shared.live.lock().unwrap_or_else(|p| p.into_inner());
        // A cut may have come while we dialled: it must not let this one through.
        if shared.cut.load(Ordering::SeqCst) {
            pair.close();
            shared.refused.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        live.push(pair);
    }
    shared.forwarded.fetch_add(1, Ordering::SeqCst);
    for (from, to) in [(client.try_clone()?, server.try_clone()?), (server, client)] {
        let s = shared.clone();
        std::thread::Builder::new()
            .name("proxy pump".into())
            .spawn(move || {
                pump(from, to);
                // Either direction ending ends the connection, as a broken link would.
                s.remove(id);
            })?;
    }
    Ok(())
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a loopback port; runs until the test process ends.
    fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    if let Ok(r) = s.try_clone() {
                        pump(r, s);
                    }
                });
            }
        });
        addr
    }

    fn echoes(addr: SocketAddr) -> bool {
        let Ok(mut s) = TcpStream::connect(addr) else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 2];
        s.write_all(b"hi").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"hi"
    }

    #[test]
    fn forwards_cuts_heals_and_follows_its_target() {
        let proxy = FaultProxy::start("test");
        assert!(!echoes(proxy.addr()), "no target yet: refused");
        proxy.retarget(Some(echo_server()));
        assert!(echoes(proxy.addr()));

        let mut open = TcpStream::connect(proxy.addr()).expect("connect");
        open.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        open.write_all(b"hi").expect("write");
        let mut buf = [0u8; 2];
        open.read_exact(&mut buf).expect("echo before the cut");
        proxy.cut();
        assert!(
            matches!(open.read(&mut buf), Ok(0) | Err(_)),
            "a cut closes open connections"
        );
        assert!(!echoes(proxy.addr()), "a cut link refuses new ones");
        proxy.heal();
        assert!(echoes(proxy.addr()));

        proxy.retarget(Some(echo_server()));
        assert!(echoes(proxy.addr()), "follows the new target");
        proxy.retarget(None);
        assert!(!echoes(proxy.addr()));
        assert!(proxy.forwarded() >= 4 && proxy.refused() >= 3);
    }
}
