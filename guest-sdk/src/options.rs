//! [`TaskOptions`]: per-task settings for `name::remote_with(..)`, mapped onto the WIT
//! `task-options` record. Anything left unset takes the runtime's default.

use std::time::Duration;

/// Options for one task submission. Build with [`TaskOptions::new`] and chain setters.
///
/// ```
/// # extern crate rustyray_sdk as rustyray;
/// use std::time::Duration;
/// let options = rustyray::TaskOptions::new().timeout(Duration::from_millis(50));
/// assert_eq!(options.timeout_ms(), Some(50));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct TaskOptions {
    timeout: Option<Duration>,
}

impl TaskOptions {
    /// The runtime's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// A wall-clock deadline, counted from when the task starts running. The task fails
    /// with [`RayError::Timeout`](crate::RayError::Timeout) if it runs longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The deadline in whole milliseconds, as the host receives it. A non-zero deadline
    /// under a millisecond rounds up to 1 ms rather than to "no time at all".
    pub fn timeout_ms(&self) -> Option<u64> {
        self.timeout.map(whole_millis)
    }
}

/// A duration as the host's milliseconds: saturating, and rounding a non-zero duration
/// under a millisecond up to 1.
pub(crate) fn whole_millis(duration: Duration) -> u64 {
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 && !duration.is_zero() {
        1
    } else {
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_in_milliseconds() {
        assert_eq!(TaskOptions::new().timeout_ms(), None);
        let at = |d| TaskOptions::new().timeout(d).timeout_ms();
        assert_eq!(at(Duration::from_millis(50)), Some(50));
        assert_eq!(at(Duration::from_micros(10)), Some(1));
        assert_eq!(at(Duration::ZERO), Some(0));
        assert_eq!(at(Duration::MAX), Some(u64::MAX));
    }
}
