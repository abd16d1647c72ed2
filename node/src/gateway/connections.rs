//! Caps on what clients may hold open, so that no client can take the
//! node's file descriptors (which its store needs) or its memory:
//!
//! - **connections**: at most `gateway.max_connections` in all and
//!   `gateway.max_connections_per_ip` from one address (an IPv6 client by
//!   its /64); one over the cap is closed as soon as it is accepted, before
//!   a byte is read (and before a TLS handshake).
//! - **idle connections**: a connection on which nothing was read or written
//!   for `gateway.idle_timeout_ms` is closed (event streams send a comment
//!   every 15 s, so an open stream is never idle).
//! - **event streams** (`/v1/alerts/stream`): at most `gateway.max_streams`
//!   in all and `gateway.max_streams_per_ip` from one address; beyond, 503.
//! - **descriptors**: at start the node raises its soft limit of open files
//!   to the hard limit ([`raise_descriptor_limit`]) and keeps 1024 of them
//!   for its store and peers: the connection cap is lowered to fit. Running
//!   out of descriptors when accepting is a refused connection (the accept
//!   loop backs off and goes on), never a storage error or an exit.

use super::limits::rate_key;
use axum_server::accept::Accept;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Descriptors kept for the node itself: its store's files, its peers.
pub const RESERVED_DESCRIPTORS: u64 = 1024;

/// Counts what is open, in all and by caller, under two caps.
#[derive(Debug)]
pub struct Slots {
    total: usize,
    per_ip: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open connection or stream; frees its slot when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    key: IpAddr,
}

/// Why a slot was refused.
#[derive(Debug, PartialEq)]
pub enum Full {
    Total(usize),
    PerIp(usize),
}

impl Slots {
    pub fn new(total: usize, per_ip: usize) -> Arc<Slots> {
        Arc::new(Slots { total, per_ip, open: Mutex::new((0, HashMap::new())) })
    }

    pub fn try_take(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Full> {
        let key = rate_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.0 >= self.total {
            return Err(Full::Total(self.total));
        }
        let mine = open.1.entry(key).or_insert(0);
        if *mine >= self.per_ip {
            return Err(Full::PerIp(self.per_ip));
        }
        *mine += 1;
        open.0 += 1;
        Ok(Slot { slots: self.clone(), key })
    }

    /// How many are open in all.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        open.0 -= 1;
        if let Some(n) = open.1.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.key);
            }
        }
    }
}

/// The acceptor that caps connections: wraps each accepted stream in a
/// [`Capped`] holding its slot and idle timer, or closes it when full.
#[derive(Clone, Debug)]
pub struct CappingAcceptor {
    pub slots: Arc<Slots>,
    pub idle: Duration,
}

impl<S: Send + 'static> Accept<TcpStream, S> for CappingAcceptor {
    type Stream = Capped<TcpStream>;
    type Service = S;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, S)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let taken = stream.peer_addr().map_err(io::Error::other).and_then(|addr| {
            self.slots.try_take(addr.ip()).map_err(|full| {
                io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    match full {
                        Full::Total(n) => format!("{n} connections open: gateway.max_connections"),
                        Full::PerIp(n) => format!("{n} connections open from {}: gateway.max_connections_per_ip", addr.ip()),
                    },
                )
            })
        });
        let idle = self.idle;
        Box::pin(async move {
            let slot = taken?;
            Ok((Capped { inner: stream, _slot: slot, idle, timer: Box::pin(tokio::time::sleep(idle)) }, service))
        })
    }
}

/// A connection that holds its slot, and ends with `TimedOut` when nothing
/// was read or written on it for `idle`.
pub struct Capped<T> {
    inner: T,
    _slot: Slot,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<T> Capped<T> {
    fn progressed(&mut self) {
        self.timer.as_mut().reset(tokio::time::Instant::now() + self.idle);
    }

    fn idle_out<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection closed: gateway.idle_timeout_ms"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.idle_out(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.progressed();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.idle_out(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.idle_out(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Raises this process's soft limit of open files to its hard limit;
/// answers the limit now in force.
pub fn raise_descriptor_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The connection cap that leaves [`RESERVED_DESCRIPTORS`] of `nofile`
/// descriptors to the node.
pub fn fitting_cap(configured: usize, nofile: u64) -> usize {
    configured.min(nofile.saturating_sub(RESERVED_DESCRIPTORS).max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cap_each_address_and_the_total_and_free_on_drop() {
        let slots = Slots::new(3, 2);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        let c = IpAddr::from([10, 0, 0, 3]);
        let a1 = slots.try_take(a);
        let a2 = slots.try_take(a);
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(slots.try_take(a).err(), Some(Full::PerIp(2)));
        let b1 = slots.try_take(b);
        assert!(b1.is_ok());
        assert_eq!(slots.try_take(c).err(), Some(Full::Total(3)));
        drop(a1);
        assert_eq!(slots.open(), 2);
        assert!(slots.try_take(c).is_ok(), "a freed slot is taken again");
        // One IPv6 /64 is one caller.
        let v6 = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
        let slots = Slots::new(10, 1);
        let _held = slots.try_take(v6(1));
        assert_eq!(slots.try_take(v6(2)).err(), Some(Full::PerIp(1)));
    }

    #[test]
    fn the_cap_leaves_descriptors_to_the_node() {
        assert_eq!(fitting_cap(4096, 1_048_576), 4096);
        assert_eq!(fitting_cap(4096, 1024 + 500), 500);
        assert_eq!(fitting_cap(4096, 100), 1);
    }
}
