//! A byte-bounded least-recently-used map, for rendered tiles and decoded COG blocks.
//!
//! Recency is kept as a queue of (key, stamp) with lazy deletion: a hit pushes a new stamp,
//! eviction pops from the front and drops an entry only if the popped stamp is still its newest.
//! Every operation is O(1) amortised; the queue is compacted when stale stamps pile up.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;

struct Entry<V> {
    value: V,
    bytes: usize,
    stamp: u64,
}

struct Inner<K, V> {
    map: HashMap<K, Entry<V>>,
    order: VecDeque<(K, u64)>,
    next_stamp: u64,
    bytes: usize,
}

/// Thread-safe LRU holding at most `capacity` bytes (as the caller weighs its values).
/// A capacity of 0 turns the cache off.
pub struct ByteLru<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

impl<K: Eq + Hash + Clone, V: Clone> ByteLru<K, V> {
    pub fn new(capacity: usize) -> Self {
        ByteLru {
            capacity,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                next_stamp: 0,
                bytes: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key`, marking it most recently used.
    pub fn get(&self, key: &K) -> Option<V> {
        if self.capacity == 0 {
            return None;
        }
        let mut inner = self.lock();
        let stamp = inner.next_stamp;
        let entry = inner.map.get_mut(key)?;
        entry.stamp = stamp;
        let value = entry.value.clone();
        inner.next_stamp += 1;
        inner.order.push_back((key.clone(), stamp));
        inner.compact();
        Some(value)
    }

    /// Stores `value` weighing `bytes`, evicting the least recently used entries to fit. A value
    /// larger than the whole cache is not kept.
    pub fn insert(&self, key: K, value: V, bytes: usize) {
        if self.capacity == 0 || bytes > self.capacity {
            return;
        }
        let mut inner = self.lock();
        let stamp = inner.next_stamp;
        inner.next_stamp += 1;
        if let Some(old) = inner.map.insert(
            key.clone(),
            Entry {
                value,
                bytes,
                stamp,
            },
        ) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        inner.order.push_back((key, stamp));
        while inner.bytes > self.capacity {
            let Some((k, s)) = inner.order.pop_front() else {
                break;
            };
            if inner.map.get(&k).is_some_and(|e| e.stamp == s)
                && let Some(e) = inner.map.remove(&k)
            {
                inner.bytes -= e.bytes;
            }
        }
        inner.compact();
    }

    /// Bytes held and entries.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.bytes, inner.map.len())
    }
}

impl<K: Eq + Hash + Clone, V> Inner<K, V> {
    /// Drops stale stamps once they outnumber the live entries, keeping the queue O(entries).
    fn compact(&mut self) {
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|e| e.stamp == *s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        let lru = ByteLru::new(10);
        lru.insert("a", 1, 4);
        lru.insert("b", 2, 4);
        assert_eq!(lru.get(&"a"), Some(1)); // a is now newer than b
        lru.insert("c", 3, 4); // 12 > 10: b goes
        assert_eq!(lru.get(&"b"), None);
        assert_eq!((lru.get(&"a"), lru.get(&"c")), (Some(1), Some(3)));
        assert_eq!(lru.usage(), (8, 2));
        lru.insert("a", 9, 2); // replacing re-weighs
        assert_eq!(lru.usage(), (6, 2));
        lru.insert("huge", 0, 11);
        assert_eq!(lru.get(&"huge"), None, "larger than the cache");
        for i in 0..1000 {
            lru.get(&"a");
            lru.insert("x", i, 1);
        }
        assert!(lru.lock().order.len() < 100, "stale stamps are compacted");
    }

    #[test]
    fn zero_capacity_is_off() {
        let lru = ByteLru::new(0);
        lru.insert(1, 1, 0);
        assert_eq!(lru.get(&1), None);
    }
}
