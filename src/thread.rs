//! One lifecycle for every background thread: a named spawn, panic capture,
//! a join bounded by a deadline, and a defined outcome past it.
//!
//! Each handle stops its own threads with its own signal (closing a queue,
//! dropping a channel, a command), then calls [`Handle::join_until`] with
//! the handle's close deadline. std cannot kill a thread, so a thread still
//! inside a blocking call at the deadline is *detached* with a `warn!` naming
//! it; every blocking call it can be in has its own timeout, so it ends on
//! its own soon after. A panic is caught on the thread itself
//! ([`catch`]), logged at `error!`, and kept for the join to report
//! ([`Joined::Panicked`]); the spawn sites that hold records or an assignment
//! catch it around their loop first, so they can fail what the thread held
//! (see docs/design.md, "Threads").

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use log::{debug, error, warn};

use crate::error::{Error, Result};

/// How a [`Handle::join_until`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Joined {
    /// The thread returned and was joined.
    Finished,
    /// The thread panicked (with this message) and was joined.
    Panicked(String),
    /// The thread was still running at the deadline (or the caller is the
    /// thread itself) and was left to end on its own.
    Detached,
}

/// A running background thread.
#[derive(Debug)]
pub(crate) struct Handle {
    name: &'static str,
    thread: JoinHandle<()>,
    /// Disconnects when the thread's body has returned or unwound.
    done: Receiver<()>,
    panic: Arc<OnceLock<String>>,
}

/// Starts `body` on a thread called `name` (`kafka-sync-…`). A panic in
/// `body` is caught, logged and kept for [`Handle::join_until`] to report.
pub(crate) fn spawn(name: &'static str, body: impl FnOnce() + Send + 'static) -> Result<Handle> {
    let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
    let panic = Arc::new(OnceLock::new());
    let on_thread = Arc::clone(&panic);
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // Declared first, dropped last: the panic is recorded before
            // anyone waiting on `done` looks at it.
            let _done = done_tx;
            if let Err(message) = catch(name, body) {
                let _ = on_thread.set(message);
            }
        })
        .map_err(|e| Error::io(format!("spawning the {name} thread"), e))?;
    Ok(Handle {
        name,
        thread,
        done,
        panic,
    })
}

/// Runs `body`, turning a panic into `Err(message)` (logged at `error!`
/// with the thread's name). For threads that must fail what they hold when
/// their loop panics.
pub(crate) fn catch<T>(name: &str, body: impl FnOnce() -> T) -> std::result::Result<T, String> {
    catch_unwind(AssertUnwindSafe(body)).map_err(|payload| {
        let message = panic_message(payload.as_ref());
        error!("thread {name} panicked: {message}");
        message
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

impl Handle {
    /// Whether the thread's body has returned (or unwound).
    pub(crate) fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits until `deadline` for the thread to end, then joins it; past the
    /// deadline it is detached with a `warn!` naming it. Called on the
    /// thread itself (a handle dropped by its own thread) it detaches at once.
    pub(crate) fn join_until(self, deadline: Instant) -> Joined {
        if std::thread::current().id() == self.thread.thread().id() {
            debug!("thread {} ends itself; not joining it", self.name);
            return Joined::Detached;
        }
        match self.done.recv_deadline(deadline) {
            Err(RecvTimeoutError::Timeout) => {
                warn!(
                    "thread {} did not stop by its close deadline; detaching it \
                     (it ends on its own once its current blocking call times out)",
                    self.name
                );
                Joined::Detached
            }
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = self.thread.join();
                match self.panic.get() {
                    Some(message) => Joined::Panicked(message.clone()),
                    None => Joined::Finished,
                }
            }
        }
    }

    /// Leaves the thread to end on its own; `reason` says why that is safe.
    pub(crate) fn detach(self, reason: &str) {
        if !self.thread.is_finished() {
            debug!("detaching thread {}: {reason}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_thread_is_named_and_joined() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let handle = spawn("kafka-sync-test", move || {
            let _ = tx.send(std::thread::current().name().map(str::to_owned));
        })
        .unwrap();
        assert_eq!(rx.recv().unwrap().as_deref(), Some("kafka-sync-test"));
        assert_eq!(
            handle.join_until(Instant::now() + Duration::from_secs(5)),
            Joined::Finished
        );
    }

    #[test]
    fn a_panic_is_captured_and_reported() {
        let handle = spawn("kafka-sync-test", || panic!("boom")).unwrap();
        let joined = handle.join_until(Instant::now() + Duration::from_secs(5));
        assert_eq!(joined, Joined::Panicked("boom".into()));
    }

    #[test]
    fn a_thread_still_running_at_the_deadline_is_detached() {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let handle = spawn("kafka-sync-test", move || {
            let _ = stop_rx.recv();
        })
        .unwrap();
        let start = Instant::now();
        let joined = handle.join_until(start + Duration::from_millis(50));
        assert_eq!(joined, Joined::Detached);
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(stop_tx);
    }
}
