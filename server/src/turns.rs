//! One at a time per key, in this process: [`Turns::take`] waits while
//! another holder of the same key works, and other keys never wait. For
//! work that many requests may ask of one thing at once and that only the
//! first should do (counting a big job's structure: the others then read
//! what it kept).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

/// Keyed turns; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Turns<K> {
    /// Each key's lock while anyone holds or waits for it.
    locks: Mutex<HashMap<K, Weak<tokio::sync::Mutex<()>>>>,
}

impl<K> Default for Turns<K> {
    fn default() -> Self {
        Turns { locks: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash + Clone> Turns<K> {
    /// Waits for `key`'s turn (first come, first served: tokio's mutex is
    /// fair); the turn ends when the guard is dropped.
    pub async fn take(&self, key: &K) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Keys nobody holds any more are forgotten, so the map stays as small as the work in flight.
            locks.retain(|_, lock| lock.strong_count() > 0);
            match locks.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key.clone(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    /// Keys held or waited for now.
    #[cfg(test)]
    fn len(&self) -> usize {
        let locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.values().filter(|lock| lock.strong_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_key_waits_and_others_do_not() {
        let turns = Arc::new(Turns::<u32>::default());
        let first = turns.take(&1).await;
        // Another key is not held up.
        let other = tokio::time::timeout(std::time::Duration::from_secs(5), turns.take(&2)).await;
        assert!(other.is_ok(), "key 2 waited for key 1");
        drop(other);
        // The same key waits until the first turn ends.
        let waiting = tokio::spawn({
            let turns = Arc::clone(&turns);
            async move {
                let _turn = turns.take(&1).await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "key 1 was taken twice at once");
        drop(first);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.expect("the second turn came").expect("no panic");
        assert_eq!(turns.len(), 0, "no key is kept once its turns end");
    }
}
