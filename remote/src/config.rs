//! The client's time limits and retry policy, with defaults that suit a model server:
//! long deadlines (generation is slow), a stall timeout well above a slow model's
//! inter-token gap, and a few retries that give a restarting server time to come back.

use std::time::Duration;

/// Timeouts and retries of a [`crate::RemoteClient`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Whole-request deadline, from the first attempt to the end of the answer,
    /// retries and their waits included.
    pub deadline: Duration,
    /// Longest silence inside a streamed answer before it counts as cut.
    pub stall_timeout: Duration,
    /// Retries after the first attempt (connection errors, 429, 5xx; before any byte
    /// of the answer arrived).
    pub max_retries: u32,
    /// First backoff; doubles with each retry up to [`Self::backoff_max`], with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is returned.
    pub max_retry_after: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(300),
            stall_timeout: Duration::from_secs(60),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}
