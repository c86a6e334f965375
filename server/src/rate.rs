//! Per-tenant request rate limiting: a token bucket per tenant, in this
//! process's memory (so with several replicas each allows the rate).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use uuid::Uuid;

/// One tenant's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Requests that may be sent right now.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

/// Token buckets of every tenant seen.
#[derive(Debug)]
pub struct RateLimiter {
    /// Sustained requests per second.
    rate: f64,
    /// Bucket size: the largest burst.
    burst: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter { rate, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `tenant`'s bucket at `now`; when it is empty,
    /// the seconds until a request may pass (for `Retry-After`).
    pub fn check(&self, tenant: Uuid, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(tenant).or_insert(Bucket { tokens: self.burst, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_pass_then_the_rate_holds_per_tenant() {
        let limiter = RateLimiter::new(2.0, 3.0);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(a, t0), Ok(()));
        }
        assert_eq!(limiter.check(a, t0), Err(1), "the burst is spent");
        assert_eq!(limiter.check(b, t0), Ok(()), "another tenant has its own bucket");
        assert_eq!(limiter.check(a, t0 + Duration::from_millis(500)), Ok(()), "half a second refills one at 2/s");
        assert!(limiter.check(a, t0 + Duration::from_millis(500)).is_err());
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limiter.check(a, later), Ok(()));
        }
        assert!(limiter.check(a, later).is_err());
        let slow = RateLimiter::new(0.1, 1.0);
        assert_eq!(slow.check(a, t0), Ok(()));
        assert_eq!(slow.check(a, t0), Err(10), "Retry-After is the wait for one request");
    }
}
