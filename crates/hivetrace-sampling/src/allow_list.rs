//! Always sample the spans of chosen users (or tenants, or sessions), a set changed at run time.
//!
//! [`AllowListSampler`] looks up one start attribute (default `user.id`) in an [`AllowList`]: on a
//! hit the span is sampled, otherwise the inner sampler decides. The list is an [`ArcSwap`] of an
//! immutable set, so a decision never takes a lock: each thread keeps the set it last used and
//! checks one counter to know it is current, then does one hash lookup. An update copies the set,
//! swaps it in and bumps the counter; decisions on any thread see it from then on.
//!
//! A hit samples the span whatever its parent decided (a listed user's span is kept even under
//! a dropped parent); put the sampler inside [`ParentBased`](crate::ParentBased) as the root
//! sampler if children should follow their parent instead.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use crate::observed::Branching;
use crate::ot_state::{sampling_result, with_parent_trace_state, without_threshold};
use crate::text_set::{IntBuf, TextSet, str_form};

/// The attribute an [`AllowListSampler`] reads unless told otherwise.
pub const DEFAULT_ATTRIBUTE: &str = "user.id";

/// A set of attribute values shared by samplers and changed at run time; clones share the set.
///
/// Values are kept as text: an attribute matches when its string form does, so the integer
/// attribute `42` matches the entry `"42"` (booleans read `true`/`false`; floats and arrays never
/// match). Each update copies the set, so it costs O(n): fine for the hundreds or thousands of
/// entries an allow-list holds, changed now and then; use [`replace`](Self::replace) to apply
/// many changes at once.
///
/// ```
/// use hivetrace_sampling::allow_list::AllowList;
///
/// let beta = AllowList::new(["u-1", "u-2"]);
/// assert!(beta.insert(42));
/// assert!(beta.remove("u-1"));
/// assert!(beta.contains("42") && !beta.contains("u-1"));
/// beta.replace(["u-9"]);
/// assert_eq!(beta.len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct AllowList {
    shared: Arc<Shared>,
}

/// The list, shared by its clones and the samplers that read it.
struct Shared {
    /// Tells this list apart in the per-thread caches; never reused.
    id: u64,
    /// Bumped after each change, so readers know their cached set is stale.
    generation: AtomicU64,
    set: ArcSwap<TextSet>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new(TextSet::default())
    }
}

static NEXT_LIST_ID: AtomicU64 = AtomicU64::new(0);

/// How many lists' sets each thread keeps at hand; beyond that the oldest is forgotten.
const CACHED_LISTS: usize = 4;

/// A thread's copy of one list's set, valid while the list's generation is unchanged.
struct CachedSet {
    list: u64,
    generation: u64,
    set: Arc<TextSet>,
}

thread_local! {
    /// Loading an `ArcSwap` costs a few fenced atomic operations, several times the cost of the
    /// lookup itself; a thread checks one generation counter instead and reloads only after a
    /// change. A thread that stops deciding keeps its last copy until it exits or decides again.
    static SETS: RefCell<Vec<CachedSet>> = const { RefCell::new(Vec::new()) };
}

impl Shared {
    fn new(set: TextSet) -> Self {
        Shared {
            id: NEXT_LIST_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            set: ArcSwap::from_pointee(set),
        }
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Runs `f` on the current set: the thread's cached copy when it is current.
    fn with_set<R>(&self, f: impl Fn(&TextSet) -> R) -> R {
        // Acquire pairs with `changed`: seeing a generation means seeing the set stored before.
        let generation = self.generation.load(Ordering::Acquire);
        SETS.try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            let i = match cache.iter().position(|c| c.list == self.id) {
                Some(i) if cache[i].generation == generation => i,
                Some(i) => {
                    cache[i] = self.load(generation);
                    i
                }
                None => {
                    if cache.len() >= CACHED_LISTS {
                        cache.remove(0);
                    }
                    cache.push(self.load(generation));
                    cache.len() - 1
                }
            };
            Some(f(&cache[i].set))
        })
        .ok()
        .flatten()
        // The thread is exiting, or `f` re-entered: read the list itself.
        .unwrap_or_else(|| f(&self.set.load()))
    }

    fn load(&self, generation: u64) -> CachedSet {
        CachedSet {
            list: self.id,
            generation,
            set: self.set.load_full(),
        }
    }
}

impl AllowList {
    /// A list holding `values`, each in its `Display` form.
    pub fn new<I>(values: I) -> Self
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        AllowList {
            shared: Arc::new(Shared::new(collect(values))),
        }
    }

    /// Replaces every entry with `values` in one swap.
    pub fn replace<I>(&self, values: I)
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        self.shared.set.store(Arc::new(collect(values)));
        self.shared.changed();
    }

    /// Adds `value`; `true` if it was not already there.
    pub fn insert(&self, value: impl fmt::Display) -> bool {
        let value: Box<str> = value.to_string().into_boxed_str();
        let previous = self.shared.set.rcu(|current| {
            if current.contains(&value) {
                Arc::clone(current)
            } else {
                let mut next = TextSet::clone(current);
                next.insert(value.clone());
                Arc::new(next)
            }
        });
        let inserted = !previous.contains(&value);
        if inserted {
            self.shared.changed();
        }
        inserted
    }

    /// Removes `value`; `true` if it was there.
    pub fn remove(&self, value: impl fmt::Display) -> bool {
        let value = value.to_string();
        let previous = self.shared.set.rcu(|current| {
            if current.contains(value.as_str()) {
                let mut next = TextSet::clone(current);
                next.remove(value.as_str());
                Arc::new(next)
            } else {
                Arc::clone(current)
            }
        });
        let removed = previous.contains(value.as_str());
        if removed {
            self.shared.changed();
        }
        removed
    }

    /// Whether `value` is in the list now.
    pub fn contains(&self, value: &str) -> bool {
        self.shared.with_set(|set| set.contains(value))
    }

    /// Whether an attribute value is in the list now, compared by its string form.
    pub fn contains_value(&self, value: &Value) -> bool {
        let mut buf = IntBuf::new();
        match str_form(value, &mut buf) {
            Some(text) => self
                .shared
                .with_set(|set| !set.is_empty() && set.contains(text)),
            None => false,
        }
    }

    /// How many entries the list holds.
    pub fn len(&self) -> usize {
        self.shared.set.load().len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.shared.set.load().is_empty()
    }
}

impl fmt::Debug for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllowList")
            .field("len", &self.len())
            .finish()
    }
}

fn collect<I>(values: I) -> TextSet
where
    I: IntoIterator,
    I::Item: fmt::Display,
{
    values
        .into_iter()
        .map(|v| v.to_string().into_boxed_str())
        .collect()
}

/// Samples every span whose start attribute is in an [`AllowList`]; the inner sampler decides
/// the rest.
///
/// A span kept for being on the list carries its parent's trace state without an OTEP 235
/// threshold (`ot=th`), since it was not kept with a known probability. Cheap to clone: clones
/// share the list. Only attributes given when the span starts are seen (in hivetrace,
/// `fields(user.id = user)` on `#[trace]`, or `SpanBuilder::attribute`).
///
/// ```
/// use hivetrace_sampling::allow_list::{AllowList, AllowListSampler};
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use opentelemetry::KeyValue;
/// use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
///
/// let beta = AllowList::new(["u-1"]);
/// let sampler = AllowListSampler::new(beta.clone(), Sampler::AlwaysOff);
/// let decide = |user: &str| {
///     let attributes = [KeyValue::new("user.id", user.to_owned())];
///     let trace_id = TraceId::from(7u128);
///     sampler
///         .should_sample(None, trace_id, "chat", &SpanKind::Internal, &attributes, &[])
///         .decision
/// };
/// assert_eq!(decide("u-1"), SamplingDecision::RecordAndSample);
/// assert_eq!(decide("u-2"), SamplingDecision::Drop);
/// beta.insert("u-2"); // seen by the next decision, on any thread
/// assert_eq!(decide("u-2"), SamplingDecision::RecordAndSample);
/// ```
#[derive(Clone)]
pub struct AllowListSampler<S> {
    attribute: Key,
    list: AllowList,
    inner: S,
}

impl<S: ShouldSample + Clone + 'static> AllowListSampler<S> {
    /// Samples spans whose `user.id` is in `list`; `inner` decides the others.
    pub fn new(list: AllowList, inner: S) -> Self {
        AllowListSampler {
            attribute: Key::from_static_str(DEFAULT_ATTRIBUTE),
            list,
            inner,
        }
    }

    /// Reads `attribute` instead of `user.id` (e.g. `tenant.id`, `session.id`).
    pub fn attribute(mut self, attribute: impl Into<Key>) -> Self {
        self.attribute = attribute.into();
        self
    }

    /// The list, to change at run time.
    pub fn list(&self) -> &AllowList {
        &self.list
    }

    /// The sampler for spans not on the list.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Whether the span's attribute is on the list.
    fn allowed(&self, attributes: &[KeyValue]) -> bool {
        // The last value wins, as when attributes are set one after another.
        attributes
            .iter()
            .rfind(|kv| kv.key == self.attribute)
            .is_some_and(|kv| self.list.contains_value(&kv.value))
    }
}

impl<S: fmt::Debug> fmt::Debug for AllowListSampler<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllowListSampler")
            .field("attribute", &self.attribute.as_str())
            .field("list", &self.list)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S: ShouldSample + Clone + 'static> ShouldSample for AllowListSampler<S> {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        self.should_sample_branch(parent_context, trace_id, name, span_kind, attributes, links)
            .1
    }
}

/// Branch 0 is a hit on the list, branch 1 the inner sampler.
impl<S: ShouldSample + Clone + 'static> Branching for AllowListSampler<S> {
    fn branch_names(&self) -> Vec<String> {
        vec!["allow-list".to_owned(), "inner".to_owned()]
    }

    fn should_sample_branch(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> (usize, SamplingResult) {
        if self.allowed(attributes) {
            (0, sampled(parent_context))
        } else {
            let result = self.inner.should_sample(
                parent_context,
                trace_id,
                name,
                span_kind,
                attributes,
                links,
            );
            (1, result)
        }
    }
}

/// A sampled result carrying the parent's trace state, less any OTEP 235 threshold (`ot=th`):
/// a span kept because of who it is for was not kept with a known probability, and a `th`
/// left in place would make backends multiply its count.
pub(crate) fn sampled(parent_context: Option<&Context>) -> SamplingResult {
    sampling_result(
        true,
        with_parent_trace_state(parent_context, without_threshold),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Array;
    use opentelemetry::trace::{TraceContextExt, TraceState};
    use opentelemetry_sdk::trace::Sampler;
    use opentelemetry_sdk::trace::SamplingDecision;

    fn decide(sampler: &impl ShouldSample, attributes: &[KeyValue]) -> SamplingDecision {
        sampler
            .should_sample(
                None,
                TraceId::from(1u128),
                "span",
                &SpanKind::Internal,
                attributes,
                &[],
            )
            .decision
    }

    #[test]
    fn integer_and_bool_attributes_match_their_string_form() {
        let list = AllowList::new(["42", "true"]);
        let sampler = AllowListSampler::new(list, Sampler::AlwaysOff);
        assert_eq!(
            decide(&sampler, &[KeyValue::new("user.id", 42)]),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(
            decide(&sampler, &[KeyValue::new("user.id", true)]),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(
            decide(&sampler, &[KeyValue::new("user.id", 43)]),
            SamplingDecision::Drop
        );
    }

    #[test]
    fn floats_arrays_and_missing_attributes_go_to_the_inner_sampler() {
        let list = AllowList::new(["42", "1.5"]);
        let sampler = AllowListSampler::new(list, Sampler::AlwaysOff);
        for attributes in [
            vec![],
            vec![KeyValue::new("user.id", 1.5)],
            vec![KeyValue::new("user.id", 42.0)],
            vec![KeyValue::new(
                "user.id",
                Value::Array(Array::String(vec!["42".into()])),
            )],
            vec![KeyValue::new("tenant.id", "42")],
        ] {
            assert_eq!(decide(&sampler, &attributes), SamplingDecision::Drop);
        }
    }

    #[test]
    fn reads_the_configured_attribute_and_the_last_value() {
        let list = AllowList::new(["acme"]);
        let sampler = AllowListSampler::new(list, Sampler::AlwaysOff).attribute("tenant.id");
        assert_eq!(
            decide(&sampler, &[KeyValue::new("user.id", "acme")]),
            SamplingDecision::Drop
        );
        let attributes = [
            KeyValue::new("tenant.id", "other"),
            KeyValue::new("tenant.id", "acme"),
        ];
        assert_eq!(
            decide(&sampler, &attributes),
            SamplingDecision::RecordAndSample
        );
    }

    #[test]
    fn a_hit_keeps_the_parent_trace_state_without_its_threshold() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags};
        let trace_state: TraceState = "ot=th:8;rv:0123456789abcd,vendor=x"
            .parse()
            .expect("valid trace state");
        let parent = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(5u128),
            SpanId::from(6u64),
            TraceFlags::SAMPLED,
            true,
            trace_state,
        ));
        let sampler = AllowListSampler::new(AllowList::new(["u"]), Sampler::AlwaysOff);
        let result = sampler.should_sample(
            Some(&parent),
            TraceId::from(5u128),
            "span",
            &SpanKind::Internal,
            &[KeyValue::new("user.id", "u")],
            &[],
        );
        assert_eq!(result.decision, SamplingDecision::RecordAndSample);
        assert_eq!(result.trace_state.get("ot"), Some("rv:0123456789abcd"));
        assert_eq!(result.trace_state.get("vendor"), Some("x"));
    }

    #[test]
    fn insert_and_remove_report_changes() {
        let list = AllowList::default();
        assert!(list.is_empty());
        assert!(list.insert("a"));
        assert!(!list.insert("a"));
        assert!(list.remove("a"));
        assert!(!list.remove("a"));
        assert!(list.is_empty());
    }

    #[test]
    fn more_lists_than_a_thread_caches_stay_correct() {
        let lists: Vec<AllowList> = (0..CACHED_LISTS * 2 + 1)
            .map(|i| AllowList::new([format!("v{i}")]))
            .collect();
        for round in 0..3 {
            for (i, list) in lists.iter().enumerate() {
                assert!(list.contains(&format!("v{i}")), "round {round}, list {i}");
                assert!(!list.contains(&format!("r{round}")));
                list.insert(format!("r{round}"));
                assert!(list.contains(&format!("r{round}")));
            }
            for list in &lists {
                assert!(list.remove(format!("r{round}")));
                assert!(!list.contains(&format!("r{round}")));
            }
        }
    }

    #[test]
    fn clones_share_the_list() {
        let list = AllowList::new(["a"]);
        let sampler = AllowListSampler::new(list, Sampler::AlwaysOff);
        let clone = sampler.clone();
        sampler.list().replace(["b"]);
        assert!(clone.list().contains("b") && !clone.list().contains("a"));
    }
}
