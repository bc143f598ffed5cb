//! How long to wait before retrying: what the server asked for in `Retry-After`
//! (seconds or an HTTP date), else exponential backoff with jitter so many clients
//! retrying one struggling server do not arrive in lockstep.

use std::time::{Duration, SystemTime};

use rand::Rng as _;

use crate::config::ClientConfig;
use crate::error::RemoteError;

/// The wait before retry number `attempt + 1` after `err`, or `None` when the server
/// asked for a longer wait than [`ClientConfig::max_retry_after`] allows.
pub fn delay(err: &RemoteError, attempt: u32, config: &ClientConfig) -> Option<Duration> {
    if let RemoteError::Status { retry_after: Some(wait), .. } = err {
        return (*wait <= config.max_retry_after).then_some(*wait);
    }
    Some(backoff(attempt, config))
}

/// "Equal jitter": half of the capped exponential step, plus a random part of the
/// other half, so a retry never comes immediately and never later than the cap.
pub fn backoff(attempt: u32, config: &ClientConfig) -> Duration {
    let step = config.backoff_base.saturating_mul(1u32 << attempt.min(16)).min(config.backoff_max);
    let half = step / 2;
    half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
}

/// A `Retry-After` value: delay-seconds or an HTTP date (a date in the past is no
/// wait). `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_grows_within_its_jitter_band_and_stops_at_the_cap() {
        let c = ClientConfig {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            ..ClientConfig::default()
        };
        for _ in 0..50 {
            let first = backoff(0, &c);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = backoff(2, &c);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            assert!(backoff(30, &c) <= Duration::from_millis(500));
        }
    }

    #[test]
    fn a_retry_after_beyond_the_limit_is_not_waited_for() {
        let c = ClientConfig { max_retry_after: Duration::from_secs(5), ..ClientConfig::default() };
        let err = |s| RemoteError::Status {
            url: "u".into(),
            status: 429,
            message: String::new(),
            retry_after: Some(Duration::from_secs(s)),
        };
        assert_eq!(delay(&err(2), 0, &c), Some(Duration::from_secs(2)));
        assert_eq!(delay(&err(60), 0, &c), None);
    }
}
