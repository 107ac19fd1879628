//! Per-user rules: named users pinned to a tier, changed at run time without a lock.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::bucket::{PrehashedBuilder, key_hash};
use crate::decision::{Decision, TierSource};
use crate::router::{RouteRequest, Router};
use crate::tier::Tier;

/// Words of the membership filter: 65,536 bits (8 KiB), so that with a thousand rules about
/// 1.5 % of other keys take the slow path.
const FILTER_WORDS: usize = 1024;

#[inline]
fn filter_position(hash: u64) -> (usize, u64) {
    let bit = (hash as usize) & (FILTER_WORDS * 64 - 1);
    (bit / 64, 1 << (bit % 64))
}

/// Rules by the key's [hash](crate::bucket::key_hash), which the percentage stage needs too:
/// a request is hashed once. Keys whose hashes collide share a slot.
#[derive(Clone, Default)]
struct Rules {
    by_hash: HashMap<u64, Vec<(Box<str>, Tier)>, PrehashedBuilder>,
    len: usize,
}

impl Rules {
    fn get(&self, key: &str, hash: u64) -> Option<&Tier> {
        self.by_hash
            .get(&hash)?
            .iter()
            .find(|(k, _)| **k == *key)
            .map(|(_, t)| t)
    }

    fn insert(&mut self, key: Box<str>, tier: Tier) {
        let slot = self.by_hash.entry(key_hash(&key)).or_default();
        match slot.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = tier,
            None => {
                slot.push((key, tier));
                self.len += 1;
            }
        }
    }

    /// The membership filter of these rules: bit `h mod FILTER_BITS` set for each key hash.
    fn filter(&self) -> Vec<u64> {
        let mut words = vec![0u64; FILTER_WORDS];
        for hash in self.by_hash.keys() {
            let (word, bit) = filter_position(*hash);
            words[word] |= bit;
        }
        words
    }

    /// Removes `key`'s rule and returns its tier.
    fn remove(&mut self, key: &str) -> Option<Tier> {
        let hash = key_hash(key);
        let slot = self.by_hash.get_mut(&hash)?;
        let at = slot.iter().position(|(k, _)| **k == *key)?;
        let (_, tier) = slot.swap_remove(at);
        self.len -= 1;
        if slot.is_empty() {
            self.by_hash.remove(&hash);
        }
        Some(tier)
    }
}

/// Pins keys (user ids) to tiers: beta testers on canary, staff on experimental, a customer
/// held on stable.
///
/// Lookups take no lock: a key no rule names is answered by one bit of a membership filter
/// (one relaxed atomic load), the others by an immutable map read through `arc-swap`. Changes
/// copy the map, so they suit rules that change now and then, not per request. Clones share
/// the rules.
///
/// ```
/// use hivetrace_routing::{RouteRequest, Router, Tier, TierSource, UserRules};
///
/// let rules = UserRules::new();
/// rules.set("beta-tester-1", Tier::CANARY);
/// let d = rules.route(&RouteRequest::new().key("beta-tester-1")).unwrap();
/// assert_eq!((d.tier(), d.source()), (&Tier::CANARY, TierSource::Rule));
/// assert_eq!(rules.route(&RouteRequest::new().key("someone-else")), None);
/// ```
#[derive(Clone)]
pub struct UserRules {
    shared: Arc<Shared>,
}

struct Shared {
    rules: ArcSwap<Rules>,
    /// A bit per key-hash class; a clear bit means no rule. Writers set the new rules' bits,
    /// publish the map, then clear the bits no rule needs: a reader never misses a rule that is
    /// in both the old and the new map.
    filter: Box<[AtomicU64]>,
    len: AtomicUsize,
    /// Serialises writers, so that one writer's clearing never drops another's new bits.
    writer: Mutex<()>,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Rules)) {
        // A poisoned lock only means a writer panicked before publishing: the map is intact.
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = Rules::clone(&self.rules.load());
        change(&mut next);
        let words = next.filter();
        for (word, bits) in self.filter.iter().zip(&words) {
            word.fetch_or(*bits, Ordering::Release);
        }
        let len = next.len;
        self.rules.store(Arc::new(next));
        self.len.store(len, Ordering::Release);
        for (word, bits) in self.filter.iter().zip(&words) {
            word.store(*bits, Ordering::Release);
        }
    }
}

impl UserRules {
    /// No rules.
    pub fn new() -> Self {
        UserRules {
            shared: Arc::new(Shared {
                rules: ArcSwap::from_pointee(Rules::default()),
                filter: (0..FILTER_WORDS).map(|_| AtomicU64::new(0)).collect(),
                len: AtomicUsize::new(0),
                writer: Mutex::new(()),
            }),
        }
    }

    /// Pins `key` to `tier`, replacing an earlier rule for it.
    pub fn set(&self, key: impl Into<Box<str>>, tier: Tier) {
        let key = key.into();
        self.shared.update(|rules| rules.insert(key, tier));
    }

    /// Removes the rule for `key`; returns the tier it had.
    pub fn remove(&self, key: &str) -> Option<Tier> {
        // Read first so that removing an absent key copies nothing; the tier returned is the
        // one removed under the writer lock, not this read (a `set` may land in between).
        self.get(key)?;
        let mut removed = None;
        self.shared.update(|rules| removed = rules.remove(key));
        removed
    }

    /// Replaces every rule at once.
    pub fn replace<K: Into<Box<str>>>(&self, rules: impl IntoIterator<Item = (K, Tier)>) {
        let mut next = Rules::default();
        for (k, t) in rules {
            next.insert(k.into(), t);
        }
        self.shared.update(|rules| *rules = next);
    }

    /// The tier `key` is pinned to.
    pub fn get(&self, key: &str) -> Option<Tier> {
        self.shared.rules.load().get(key, key_hash(key)).cloned()
    }

    /// How many keys are pinned.
    pub fn len(&self) -> usize {
        self.shared.len.load(Ordering::Acquire)
    }

    /// Whether no key is pinned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rule for `key`, whose [`key_hash`] the caller already computed; `None` without
    /// computing anything when there are no rules.
    #[inline]
    pub(crate) fn lookup(&self, key: &str, hash: impl FnOnce() -> u64) -> Option<Decision> {
        if self.shared.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let hash = hash();
        let (word, bit) = filter_position(hash);
        if self.shared.filter[word].load(Ordering::Acquire) & bit == 0 {
            return None;
        }
        self.shared
            .rules
            .load()
            .get(key, hash)
            .map(|tier| Decision::new(tier.clone(), TierSource::Rule))
    }
}

impl Default for UserRules {
    fn default() -> Self {
        Self::new()
    }
}

impl Router for UserRules {
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        let key = request.key_value()?;
        self.lookup(key, || key_hash(key))
    }
}

impl fmt::Debug for UserRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRules")
            .field("rules", &self.len())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_sharing_a_hash_slot_or_filter_bit_are_told_apart() {
        let mut rules = Rules::default();
        // Forced into one slot, as two keys with colliding hashes would be.
        rules
            .by_hash
            .entry(7)
            .or_default()
            .push(("a".into(), Tier::CANARY));
        rules
            .by_hash
            .entry(7)
            .or_default()
            .push(("b".into(), Tier::STABLE));
        assert_eq!(rules.get("b", 7), Some(&Tier::STABLE));
        assert_eq!(rules.get("c", 7), None);

        // Two keys in one filter bit: removing one keeps the other found.
        let user_rules = UserRules::new();
        let first = "user-0";
        let (word, bit) = filter_position(key_hash(first));
        let second = (1..)
            .map(|i| format!("user-{i}"))
            .find(|k| filter_position(key_hash(k)) == (word, bit))
            .unwrap();
        user_rules.set(first, Tier::CANARY);
        user_rules.set(second.as_str(), Tier::EXPERIMENTAL);
        user_rules.remove(first);
        let d = user_rules.route(&RouteRequest::new().key(&second)).unwrap();
        assert_eq!(d.tier(), &Tier::EXPERIMENTAL);
        assert_eq!(user_rules.route(&RouteRequest::new().key(first)), None);
        user_rules.remove(&second);
        assert_eq!(
            user_rules.shared.filter[word].load(Ordering::Relaxed) & bit,
            0
        );
    }

    #[test]
    fn rules_change_at_run_time_and_clones_share_them() {
        let rules = UserRules::new();
        let reader = rules.clone();
        assert!(reader.is_empty());
        rules.set("u1", Tier::CANARY);
        rules.set("u2", Tier::EXPERIMENTAL);
        rules.set("u1", Tier::STABLE);
        assert_eq!(reader.len(), 2);
        assert_eq!(reader.get("u1"), Some(Tier::STABLE));
        assert_eq!(reader.remove("u2"), Some(Tier::EXPERIMENTAL));
        assert_eq!(reader.remove("u2"), None);
        assert_eq!(rules.len(), 1);
        assert_eq!(reader.route(&RouteRequest::new().key("u2")), None);
        rules.replace([("u3", Tier::CANARY)]);
        assert_eq!(reader.get("u1"), None);
        let d = reader.route(&RouteRequest::new().key("u3")).unwrap();
        assert_eq!(d, Decision::new(Tier::CANARY, TierSource::Rule));
    }

    #[test]
    fn a_standing_rule_is_never_missed_while_others_change() {
        let rules = UserRules::new();
        rules.set("standing", Tier::CANARY);
        let reader = {
            let rules = rules.clone();
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    let d = rules.route(&RouteRequest::new().key("standing"));
                    assert_eq!(d.map(|d| d.tier().clone()), Some(Tier::CANARY));
                }
            })
        };
        for i in 0..300 {
            rules.set(format!("churn-{i}"), Tier::STABLE);
            rules.remove(&format!("churn-{}", i / 2));
        }
        rules.replace([("standing", Tier::CANARY), ("other", Tier::STABLE)]);
        reader.join().unwrap();
        assert_eq!(rules.len(), 2);
    }

    #[test]
    fn requests_without_a_key_pass() {
        let rules = UserRules::new();
        rules.set("u1", Tier::CANARY);
        assert_eq!(rules.route(&RouteRequest::new().header("canary")), None);
    }
}
