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

pub use connection::{api_name, Connection, ConnectionConfig, PendingResponse};
pub use sasl::Sasl;
pub use tls::{TlsConfig, TlsConnector};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};
use parking_lot::Mutex;

use crate::error::{Error, Result};

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
        base.mul_f64(jitter)
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

#[derive(Default)]
struct SlotState {
    conn: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<Error>,
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
    slots: Mutex<HashMap<String, Arc<Mutex<SlotState>>>>,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("brokers", &self.slots.lock().keys().collect::<Vec<_>>())
            .finish()
    }
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

    /// A live connection to `addr`, connecting if needed. A broker that failed
    /// recently is retried only after its backoff; if that lies past
    /// `deadline` the last error is returned at once.
    pub fn get(&self, addr: &str, deadline: Instant) -> Result<Arc<Connection>> {
        let slot = Arc::clone(self.slots.lock().entry(addr.to_owned()).or_default());
        // Held while connecting, so threads wanting the same broker share one
        // attempt instead of opening one connection each.
        let mut state = slot.lock();
        if let Some(conn) = &state.conn {
            if !conn.is_closed() && !conn.session_expiring() {
                return Ok(Arc::clone(conn));
            }
            if !conn.is_closed() {
                // KIP-368: the broker would soon close it. Requests in flight
                // finish on the old connection; it closes when dropped.
                debug!("{addr}: SASL session lifetime nearly over, reconnecting");
            }
            state.conn = None;
        }
        if let Some(retry_at) = state.retry_at {
            let now = Instant::now();
            if retry_at > now {
                // A TLS or SASL failure (wrong CA, wrong password) will not
                // heal by itself within a backoff: report it at once.
                let fatal = state.last_error.as_ref().is_some_and(is_fatal);
                if retry_at > deadline || fatal {
                    return Err(state.last_error.clone().unwrap_or_else(|| {
                        Error::NoBrokerAvailable(format!("{addr} is in reconnect backoff"))
                    }));
                }
                std::thread::sleep(retry_at - now);
            }
        }
        match Connection::connect(addr, &self.config) {
            Ok(conn) => {
                let conn = Arc::new(conn);
                state.conn = Some(Arc::clone(&conn));
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
                Ok(conn)
            }
            Err(e) => {
                state.failures += 1;
                let delay = if is_fatal(&e) {
                    self.backoff.max
                } else {
                    self.backoff.delay(state.failures)
                };
                state.retry_at = Some(crate::time::after(delay));
                state.last_error = Some(e.clone());
                if state.failures == 1 {
                    warn!("cannot connect to {addr}: {e}; retrying in {delay:?}");
                } else {
                    debug!("cannot connect to {addr} (attempt {}): {e}", state.failures);
                }
                Err(e)
            }
        }
    }

    /// Whether `addr` has an open connection right now.
    pub fn is_connected(&self, addr: &str) -> bool {
        self.slots
            .lock()
            .get(addr)
            .and_then(|s| s.lock().conn.as_ref().map(|c| !c.is_closed()))
            .unwrap_or(false)
    }

    /// Whether `addr` failed recently and is waiting out its backoff.
    pub fn in_backoff(&self, addr: &str) -> bool {
        let slot = self.slots.lock().get(addr).cloned();
        slot.and_then(|s| s.lock().retry_at)
            .is_some_and(|at| at > Instant::now())
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        let slots: Vec<_> = self.slots.lock().drain().map(|(_, s)| s).collect();
        for slot in slots {
            if let Some(conn) = slot.lock().conn.take() {
                conn.close();
            }
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
