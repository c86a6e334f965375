//! Request rate limiting: a token bucket per key (a tenant for
//! authenticated requests, a client address for registration), in this
//! process's memory (so with several replicas each allows the rate).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

use roster_proto::TenantId;

/// Buckets kept before full ones are forgotten: a stream of new client
/// addresses cannot grow the table without bound.
const PRUNE_ABOVE: usize = 10_000;

/// One key's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Requests that may be sent right now.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

/// Token buckets of the keys seen lately (tenants by default).
#[derive(Debug)]
pub struct RateLimiter<K = TenantId> {
    /// Sustained requests per second.
    rate: f64,
    /// Bucket size: the largest burst.
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    pub fn new(rate: f64, burst: f64) -> RateLimiter<K> {
        RateLimiter { rate, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `key`'s bucket at `now`; when it is empty,
    /// the seconds until a request may pass (for `Retry-After`).
    pub fn check(&self, key: K, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            // A bucket that has refilled is the same as no bucket.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.burst, at: now });
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

    use uuid::Uuid;

    use super::*;

    #[test]
    fn bursts_pass_then_the_rate_holds_per_tenant() {
        let limiter = RateLimiter::new(2.0, 3.0);
        let (a, b) = (TenantId::from(Uuid::from_u128(1)), TenantId::from(Uuid::from_u128(2)));
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
        let slow = RateLimiter::<TenantId>::new(0.1, 1.0);
        assert_eq!(slow.check(a, t0), Ok(()));
        assert_eq!(slow.check(a, t0), Err(10), "Retry-After is the wait for one request");
    }

    #[test]
    fn refilled_buckets_are_forgotten_once_there_are_many() {
        let limiter = RateLimiter::<u32>::new(1.0, 3.0);
        let t0 = Instant::now();
        for key in 0..=PRUNE_ABOVE as u32 {
            assert_eq!(limiter.check(key, t0), Ok(()));
        }
        for _ in 0..2 {
            assert_eq!(limiter.check(0, t0), Ok(()));
        }
        assert!(limiter.check(0, t0).is_err(), "key 0 spent its burst");
        // A second later every other bucket has refilled and is dropped;
        // key 0's has one request back, and is kept.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(limiter.check(PRUNE_ABOVE as u32 + 1, later), Ok(()));
        let kept = limiter.buckets.lock().map(|b| b.len()).unwrap_or_default();
        assert_eq!(kept, 2);
        assert_eq!(limiter.check(0, later), Ok(()));
        assert!(limiter.check(0, later).is_err(), "key 0's state survived the pruning");
    }
}
