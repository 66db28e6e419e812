//! A small weighted LRU: the block cache (weight = bytes) and the header cache (weight ≈ the
//! size of the tile tables) share it. Plain `HashMap` + `BTreeMap` of use ticks; the callers
//! hold it behind a `Mutex` (every operation is O(log n) and short).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Least-recently-used map bounded by the total weight of its values.
#[derive(Debug)]
pub struct Lru<K, V> {
    capacity: u64,
    used: u64,
    tick: u64,
    map: HashMap<K, (V, u64, u64)>,
    order: BTreeMap<u64, K>,
    hits: u64,
    misses: u64,
}

/// Counters of a cache, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: u64,
    pub bytes: u64,
    pub capacity: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    pub fn new(capacity: u64) -> Self {
        Lru {
            capacity,
            used: 0,
            tick: 0,
            map: HashMap::new(),
            order: BTreeMap::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// The value for `key` (marking it recently used), counting a hit or a miss.
    pub fn get(&mut self, key: &K) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        match self.map.get_mut(key) {
            Some((v, _, t)) => {
                self.order.remove(t);
                *t = tick;
                self.order.insert(tick, key.clone());
                self.hits += 1;
                Some(v.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Inserts `value` of `weight`, evicting the least recently used entries to make room. A
    /// value heavier than the whole cache is not kept.
    pub fn insert(&mut self, key: K, value: V, weight: u64) {
        if let Some((_, w, t)) = self.map.remove(&key) {
            self.order.remove(&t);
            self.used -= w;
        }
        if weight > self.capacity {
            return;
        }
        while self.used + weight > self.capacity {
            let Some((_, old)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, w, _)) = self.map.remove(&old) {
                self.used -= w;
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.map.insert(key, (value, weight, self.tick));
        self.used += weight;
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits,
            misses: self.misses,
            entries: self.map.len() as u64,
            bytes: self.used,
            capacity: self.capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_by_weight() {
        let mut c = Lru::new(10);
        c.insert("a", 1, 4);
        c.insert("b", 2, 4);
        assert_eq!(c.get(&"a"), Some(1)); // b is now the oldest
        c.insert("c", 3, 4);
        assert_eq!(c.get(&"b"), None);
        assert_eq!(c.get(&"a"), Some(1));
        assert_eq!(c.get(&"c"), Some(3));
        c.insert("huge", 9, 11);
        assert_eq!(c.get(&"huge"), None);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.entries, s.bytes), (3, 2, 2, 8));
    }

    #[test]
    fn reinsert_replaces_weight() {
        let mut c = Lru::new(10);
        c.insert(1, "x", 8);
        c.insert(1, "y", 2);
        c.insert(2, "z", 8);
        assert_eq!(c.get(&1), Some("y"));
        assert_eq!(c.stats().bytes, 10);
    }
}
