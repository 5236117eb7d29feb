//! A loopback TCP proxy between a server and PostgreSQL, so a test can take "PostgreSQL" down without touching
//! the machine's real one (other tests share it). [`PgProxy::stop`] closes every proxied connection (both sides:
//! the server sees its connections die, PostgreSQL rolls back whatever they had open) and turns every new
//! connection away (accepted and closed at once); [`PgProxy::resume`] forwards again.
//!
//! Plain threads and blocking sockets: a handful of pooled connections, two copy threads each.

use std::io::Read as _;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

#[derive(Debug, Default)]
struct State {
    forwarding: AtomicBool,
    closing: AtomicBool,
    /// Both sockets of every proxied connection (clones), to cut them on `stop`.
    open: Mutex<Vec<(TcpStream, TcpStream)>>,
    refused: AtomicUsize,
    accepted: AtomicUsize,
}

pub struct PgProxy {
    pub port: u16,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl PgProxy {
    /// Listen on a free loopback port and forward to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        state.forwarding.store(true, Ordering::SeqCst);
        let upstream = upstream.to_owned();
        let shared = state.clone();
        let acceptor = std::thread::spawn(move || accept_loop(&listener, &upstream, &shared));
        PgProxy {
            port,
            state,
            acceptor: Some(acceptor),
        }
    }

    /// "PostgreSQL stops": cut every open connection and turn new ones away.
    pub fn stop(&self) {
        self.state.forwarding.store(false, Ordering::SeqCst);
        let open: Vec<(TcpStream, TcpStream)> = self.state.open.lock().unwrap().drain(..).collect();
        for (client, server) in open {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }

    /// "PostgreSQL is back": forward new connections again.
    pub fn resume(&self) {
        self.state.forwarding.store(true, Ordering::SeqCst);
    }

    /// Connections turned away while stopped.
    pub fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }

    /// Connections forwarded.
    #[expect(dead_code, reason = "kept for a scenario being debugged; no test reads it")]
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::SeqCst);
        self.stop();
        // Wake the blocking accept.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, upstream: &str, state: &Arc<State>) {
    for incoming in listener.incoming() {
        if state.closing.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = incoming else { continue };
        if !state.forwarding.load(Ordering::SeqCst) {
            state.refused.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect(upstream) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        state.accepted.fetch_add(1, Ordering::SeqCst);
        state
            .open
            .lock()
            .unwrap()
            .push((client.try_clone().unwrap(), server.try_clone().unwrap()));
        pump(client.try_clone().unwrap(), server.try_clone().unwrap());
        pump(server, client);
    }
}

/// Copy `from` to `to` until either side closes, then close `to`'s write half.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
