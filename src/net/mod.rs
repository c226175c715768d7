//! Broker connections: the only layer that touches sockets.
//!
//! [`Connection`] is one pipelined TCP (or TLS) connection with a reader
//! thread, authenticated with SASL when configured; [`ConnectionPool`] keeps
//! one per broker address, reconnecting with exponential backoff after a
//! failure and before a SASL session expires.

mod connection;
mod sasl;
pub(crate) mod scram;
pub mod tls;

pub use connection::{
    api_name, Connection, ConnectionConfig, Frame, FrameBuffers, PendingResponse,
};
pub use sasl::Sasl;
pub use tls::{TlsConfig, TlsConnector};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};
use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result, TimeoutKind};

/// Reconnect backoff settings, as in the Java client's `reconnect.backoff.ms`
/// and `reconnect.backoff.max.ms`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Wait after the first failure.
    pub initial: Duration,
    /// Cap on the wait.
    pub max: Duration,
}

impl Backoff {
    /// The wait after `failures` consecutive failures: doubling from
    /// `initial`, capped at `max`, with ±20 % jitter so clients that failed
    /// together do not reconnect together.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(16);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max);
        let jitter = 0.8 + 0.4 * pseudo_random_unit();
        // `mul_f64` panics past `Duration::MAX`; a huge backoff stays as it is.
        Duration::try_from_secs_f64(base.as_secs_f64() * jitter).unwrap_or(base)
    }
}

/// A cheap, non-cryptographic value in `[0, 1)` for jitter.
pub(crate) fn pseudo_random_unit() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What a broker's slot holds. Guarded by a short lock that is never held
/// across network I/O: connection attempts run on a `kafka-sync-connect`
/// thread, and callers wait on the slot's condition variable, each until its
/// own deadline.
#[derive(Default)]
struct SlotState {
    conn: Option<Arc<Connection>>,
    /// The connection attempt in flight, if any (joined once it has ended).
    attempt: Option<crate::thread::Handle>,
    /// Whether `attempt` is still running (cleared by the attempt itself).
    connecting: bool,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<Error>,
    /// How many attempts have ended: a caller makes at most one attempt
    /// (waiting out a backoff first), so it returns once one it waited on
    /// has ended.
    ended: u64,
    /// The pool was closed: an attempt that ends later closes its connection.
    shut: bool,
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    /// Notified whenever an attempt ends.
    changed: Condvar,
}

/// The name of the threads that open pooled connections.
const CONNECT_THREAD: &str = "kafka-sync-connect";

/// What [`ConnectionPool::poll`] found.
#[derive(Debug)]
pub enum Poll {
    /// A live connection.
    Ready(Arc<Connection>),
    /// An attempt is running in the background; ask again later.
    Connecting,
}

/// Errors no reconnect can fix until the configuration or the broker's
/// setup changes.
fn is_fatal(e: &Error) -> bool {
    matches!(e, Error::Tls(_) | Error::Sasl(_))
}

/// One connection per broker address, opened on demand.
pub struct ConnectionPool {
    config: ConnectionConfig,
    backoff: Backoff,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("brokers", &self.slots.lock().keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One step of [`ConnectionPool::get`]'s loop, decided under the slot lock.
enum Step {
    Ready(Arc<Connection>),
    Failed(Error),
    /// Wait for an attempt to end (or until `until`, a backoff's end);
    /// `fallback` is a connection still usable meanwhile (one whose SASL
    /// session is being renewed).
    Wait {
        until: Option<Instant>,
        fallback: Option<Arc<Connection>>,
    },
}

impl ConnectionPool {
    /// An empty pool.
    pub fn new(config: ConnectionConfig, backoff: Backoff) -> Self {
        ConnectionPool {
            config,
            backoff,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The connection settings.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    fn slot(&self, addr: &str) -> Arc<Slot> {
        Arc::clone(self.slots.lock().entry(addr.to_owned()).or_default())
    }

    /// A live connection to `addr`, connecting if needed, waiting no later
    /// than `deadline`. The attempt runs on a `kafka-sync-connect` thread, so
    /// threads wanting the same broker share it and each gives up at its own
    /// deadline; past it the caller gets a retriable connect timeout while
    /// the attempt goes on for the next caller. A broker that failed recently
    /// is retried only after its backoff; if that lies past `deadline` (or
    /// the failure was a TLS or SASL one) the last error is returned at once.
    pub fn get(&self, addr: &str, deadline: Instant) -> Result<Arc<Connection>> {
        self.get_bounded(addr, deadline, deadline)
    }

    /// A live connection to `addr` if there is one now; otherwise starts an
    /// attempt in the background (unless one is running) and returns
    /// [`Poll::Connecting`]. Never blocks on the network. A broker in
    /// backoff returns its last error.
    pub fn poll(&self, addr: &str) -> Result<Poll> {
        let slot = self.slot(addr);
        let mut state = slot.state.lock();
        match self.step(&slot, addr, &mut state, Instant::now()) {
            Step::Ready(conn) => Ok(Poll::Ready(conn)),
            Step::Failed(e) => Err(e),
            Step::Wait {
                fallback: Some(conn),
                ..
            } => Ok(Poll::Ready(conn)),
            Step::Wait { .. } => Ok(Poll::Connecting),
        }
    }

    fn get_bounded(
        &self,
        addr: &str,
        backoff_deadline: Instant,
        attempt_deadline: Instant,
    ) -> Result<Arc<Connection>> {
        let slot = self.slot(addr);
        let mut state = slot.state.lock();
        let seen = state.ended;
        loop {
            if state.ended != seen {
                if let Some(conn) = state.conn.as_ref().filter(|c| !c.is_closed()) {
                    return Ok(Arc::clone(conn));
                }
                if let Some(e) = &state.last_error {
                    return Err(e.clone());
                }
            }
            let (until, fallback) = match self.step(&slot, addr, &mut state, backoff_deadline) {
                Step::Ready(conn) => return Ok(conn),
                Step::Failed(e) => return Err(e),
                // A connection whose session is being renewed serves on
                // until its replacement is ready: callers never wait for it.
                Step::Wait {
                    fallback: Some(conn),
                    ..
                } => return Ok(conn),
                Step::Wait { until, fallback } => (until, fallback),
            };
            let limit = until.map_or(attempt_deadline, |u| u.min(attempt_deadline));
            if Instant::now() >= attempt_deadline {
                return match fallback {
                    Some(conn) => Ok(conn),
                    None => Err(Error::timeout(
                        TimeoutKind::Connect,
                        format!("waiting for the connection to {addr} (still connecting)"),
                    )),
                };
            }
            slot.changed.wait_until(&mut state, limit);
        }
    }

    /// Decides what a caller does next, starting an attempt when one is due.
    fn step(
        &self,
        slot: &Arc<Slot>,
        addr: &str,
        state: &mut SlotState,
        backoff_deadline: Instant,
    ) -> Step {
        if state.shut {
            return Step::Failed(Error::Closed("connection pool"));
        }
        if let Some(attempt) = state.attempt.take_if(|a| a.is_finished()) {
            // It has published its outcome; this join returns at once.
            attempt.join_until(Instant::now());
        }
        let mut fallback = None;
        if let Some(conn) = &state.conn {
            if conn.is_closed() {
                state.conn = None;
            } else if !conn.session_expiring() {
                return Step::Ready(Arc::clone(conn));
            } else {
                // KIP-368: the broker ends the session soon. Keep using this
                // connection while a fresh one authenticates; the pool swaps
                // them when it is ready and the old one finishes the
                // requests in flight on it (`Connection::retire`).
                fallback = Some(Arc::clone(conn));
            }
        }
        if state.connecting {
            return Step::Wait {
                until: None,
                fallback,
            };
        }
        let now = Instant::now();
        if let Some(retry_at) = state.retry_at.filter(|&at| at > now) {
            if let Some(conn) = fallback {
                return Step::Ready(conn);
            }
            // A TLS or SASL failure (wrong CA, wrong password) will not heal
            // by itself within a backoff: report it at once.
            let fatal = state.last_error.as_ref().is_some_and(is_fatal);
            if retry_at > backoff_deadline || fatal {
                return Step::Failed(state.last_error.clone().unwrap_or_else(|| {
                    Error::NoBrokerAvailable(format!("{addr} is in reconnect backoff"))
                }));
            }
            return Step::Wait {
                until: Some(retry_at),
                fallback: None,
            };
        }
        match self.start_attempt(slot, addr) {
            Ok(handle) => {
                state.connecting = true;
                state.attempt = Some(handle);
                Step::Wait {
                    until: None,
                    fallback,
                }
            }
            Err(e) => match fallback {
                Some(conn) => Step::Ready(conn),
                None => Step::Failed(e),
            },
        }
    }

    /// Opens a connection to `addr` on a `kafka-sync-connect` thread, which
    /// publishes the outcome in the slot and wakes its waiters. The thread
    /// holds only the slot and a copy of the settings.
    fn start_attempt(&self, slot: &Arc<Slot>, addr: &str) -> Result<crate::thread::Handle> {
        let slot = Arc::clone(slot);
        let addr = addr.to_owned();
        let config = self.config.clone();
        let backoff = self.backoff;
        crate::thread::spawn(CONNECT_THREAD, move || {
            // Publishes a failure if the attempt unwinds before reporting.
            let mut outcome = Outcome {
                slot: &slot,
                addr: &addr,
                backoff,
                result: None,
            };
            outcome.result = Some(Connection::connect(&addr, &config));
        })
    }

    /// Whether `addr` has an open connection right now.
    pub fn is_connected(&self, addr: &str) -> bool {
        let slot = self.slots.lock().get(addr).cloned();
        slot.and_then(|s| s.state.lock().conn.as_ref().map(|c| !c.is_closed()))
            .unwrap_or(false)
    }

    /// Whether `addr` failed recently and is waiting out its backoff.
    pub fn in_backoff(&self, addr: &str) -> bool {
        let slot = self.slots.lock().get(addr).cloned();
        slot.and_then(|s| s.state.lock().retry_at)
            .is_some_and(|at| at > Instant::now())
    }

    /// Closes every connection. Attempts still running are left to end on
    /// their own (each is bounded by the connect timeouts) and close what
    /// they opened.
    pub fn close_all(&self) {
        let slots: Vec<_> = self.slots.lock().drain().map(|(_, s)| s).collect();
        for slot in slots {
            let (conn, attempt) = {
                let mut state = slot.state.lock();
                state.shut = true;
                (state.conn.take(), state.attempt.take())
            };
            slot.changed.notify_all();
            if let Some(conn) = conn {
                conn.close();
            }
            if let Some(attempt) = attempt {
                attempt.detach("a connection attempt ends by itself within its connect timeouts");
            }
        }
    }
}

/// The end of one connection attempt, published into its slot on drop (so
/// also when the attempt panics).
struct Outcome<'a> {
    slot: &'a Slot,
    addr: &'a str,
    backoff: Backoff,
    result: Option<Result<Connection>>,
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        let addr = self.addr;
        let result = self.result.take().unwrap_or_else(|| {
            Err(Error::io(
                format!("connecting to {addr}"),
                std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    format!("the {CONNECT_THREAD} thread panicked"),
                ),
            ))
        });
        let mut state = self.slot.state.lock();
        state.connecting = false;
        state.ended += 1;
        let mut retired = None;
        match result {
            Ok(conn) if state.shut => retired = Some(Arc::new(conn)),
            Ok(conn) => {
                retired = state.conn.replace(Arc::new(conn));
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
            }
            Err(e) => {
                state.failures += 1;
                let delay = if is_fatal(&e) {
                    self.backoff.max
                } else {
                    self.backoff.delay(state.failures)
                };
                state.retry_at = Some(crate::time::after(delay));
                if state.failures == 1 {
                    warn!("cannot connect to {addr}: {e}; retrying in {delay:?}");
                } else {
                    debug!("cannot connect to {addr} (attempt {}): {e}", state.failures);
                }
                state.last_error = Some(e);
            }
        }
        drop(state);
        self.slot.changed.notify_all();
        if let Some(old) = retired {
            // Replaced (a SASL session renewed) or the pool is gone: new
            // requests go elsewhere, those in flight finish on it.
            debug!("{addr}: retiring the previous connection");
            old.retire();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let d1 = b.delay(1);
        assert!(d1 >= Duration::from_millis(80) && d1 <= Duration::from_millis(120));
        let d3 = b.delay(3);
        assert!(d3 >= Duration::from_millis(320) && d3 <= Duration::from_millis(480));
        let d20 = b.delay(20);
        assert!(d20 <= Duration::from_millis(1200));
    }
}
