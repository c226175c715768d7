//! Deadline arithmetic that cannot overflow.
//!
//! Durations come from users (`linger`, `delivery_timeout`, …) and may be
//! as large as `Duration::MAX`, which `Instant + Duration` turns into a
//! panic. Every deadline built from a configured duration goes through
//! [`after`] or [`add`]: a deadline past what `Instant` can hold becomes a
//! point about thirty years away, which is "never" for any client.

use std::time::{Duration, Instant};

/// Far enough to mean "never", near enough for every platform's `Instant`.
const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `at + d`, saturating at about thirty years past `at`.
pub(crate) fn add(at: Instant, d: Duration) -> Instant {
    at.checked_add(d.min(FAR))
        .or_else(|| at.checked_add(Duration::from_secs(24 * 3600)))
        .unwrap_or(at)
}

/// `Instant::now() + d`, saturating; see [`add`].
pub(crate) fn after(d: Duration) -> Instant {
    add(Instant::now(), d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let now = Instant::now();
        assert!(add(now, Duration::MAX) > now + Duration::from_secs(365 * 24 * 3600));
        assert!(after(Duration::MAX) > now);
        assert_eq!(
            add(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
