//! Tests on a span's name and start attributes: the [`Predicate`]s a
//! [`RuleSampler`](crate::rules::RuleSampler) chooses its rule by.
//!
//! Predicates are compiled when they are built (a glob becomes a prefix, suffix or segment
//! match), and evaluating them neither allocates nor locks.

use std::fmt;

use opentelemetry::{Key, KeyValue, Value};

use crate::text_set::{IntBuf, TextSet, str_form};
use crate::{Error, Result};

/// The start attribute hivetrace writes a span's event type to.
pub const EVENT_TYPE_ATTRIBUTE: &str = "honeyhive_event_type";

/// A hivetrace event type, read from the `honeyhive_event_type` start attribute.
///
/// ```
/// use hivetrace_sampling::rules::{EventType, Predicate};
/// use opentelemetry::KeyValue;
///
/// let tools = Predicate::event_type(EventType::Tool);
/// assert!(tools.matches("search", &[KeyValue::new("honeyhive_event_type", "tool")]));
/// assert_eq!(EventType::Tool.as_str(), "tool");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// A model (LLM) call.
    Model,
    /// A tool call: retrieval, an API, a function.
    Tool,
    /// A chain of steps.
    Chain,
    /// The root of a session.
    Session,
}

impl EventType {
    /// The attribute's value for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Model => "model",
            EventType::Tool => "tool",
            EventType::Chain => "chain",
            EventType::Session => "session",
        }
    }
}

/// How a numeric attribute is compared with a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Comparison {
    /// `attribute < threshold`
    Lt,
    /// `attribute <= threshold`
    Le,
    /// `attribute > threshold`
    Gt,
    /// `attribute >= threshold`
    Ge,
}

/// A value an attribute is compared with by [`Predicate::attribute_equals`].
///
/// Text matches an attribute whose string form is equal (strings; integers in decimal;
/// booleans as `true`/`false`). A number matches an integer or float attribute of equal value.
/// A boolean matches a boolean.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Expected {
    /// Compared as text.
    Text(Box<str>),
    /// Compared as a number.
    Number(f64),
    /// Compared as a boolean.
    Bool(bool),
}

impl From<&str> for Expected {
    fn from(value: &str) -> Self {
        Expected::Text(value.into())
    }
}

impl From<String> for Expected {
    fn from(value: String) -> Self {
        Expected::Text(value.into_boxed_str())
    }
}

impl From<i64> for Expected {
    /// Integers beyond ±2^53 are rounded to the nearest `f64`.
    fn from(value: i64) -> Self {
        Expected::Number(value as f64)
    }
}

impl From<i32> for Expected {
    fn from(value: i32) -> Self {
        Expected::Number(f64::from(value))
    }
}

impl From<f64> for Expected {
    fn from(value: f64) -> Self {
        Expected::Number(value)
    }
}

impl From<bool> for Expected {
    fn from(value: bool) -> Self {
        Expected::Bool(value)
    }
}

/// A test on a span's name and start attributes, for a rule of a
/// [`RuleSampler`](crate::rules::RuleSampler).
///
/// Never panics, whatever the attributes hold: an attribute of the wrong type (an array where a
/// number is expected) simply does not match.
///
/// ```
/// use hivetrace_sampling::rules::{Comparison, EventType, Predicate};
///
/// // A model call on an expensive model with a long prompt.
/// let expensive = Predicate::event_type(EventType::Model)
///     .and(Predicate::attribute_one_of("gen_ai.request.model", ["gpt-4o", "claude-opus-4"]))
///     .and(Predicate::attribute_compare("prompt_tokens", Comparison::Ge, 1000.0));
/// let health = Predicate::any_of([Predicate::name("GET /health*"), Predicate::name("*/ready")]);
/// # let _ = (expensive, health);
/// ```
#[derive(Clone, Debug)]
pub struct Predicate(Kind);

#[derive(Clone, Debug)]
enum Kind {
    Name(NamePattern),
    Attribute { key: Key, test: AttributeTest },
    EventType(EventType),
    All(Box<[Predicate]>),
    Any(Box<[Predicate]>),
    Not(Box<Predicate>),
}

#[derive(Clone, Debug)]
enum NamePattern {
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<str>),
    /// `first*middle*...*last`: starts with `first`, ends with `last`, and holds each middle
    /// segment in order between them, non-overlapping.
    Glob {
        first: Box<str>,
        middle: Box<[Box<str>]>,
        last: Box<str>,
    },
}

/// The values of [`Predicate::attribute_one_of`]: a handful are compared one by one, which beats
/// hashing the attribute; more are hashed.
#[derive(Clone, Debug)]
enum OneOf {
    Few(Box<[Box<str>]>),
    Many(TextSet),
}

/// Up to this many values, comparing each is cheaper than hashing once.
const FEW: usize = 8;

impl OneOf {
    fn new(values: Vec<Box<str>>) -> Self {
        let mut values = values;
        values.sort_unstable();
        values.dedup();
        if values.len() <= FEW {
            OneOf::Few(values.into_boxed_slice())
        } else {
            OneOf::Many(values.into_iter().collect())
        }
    }

    fn contains(&self, text: &str) -> bool {
        match self {
            OneOf::Few(values) => values.iter().any(|v| **v == *text),
            OneOf::Many(values) => values.contains(text),
        }
    }
}

#[derive(Clone, Debug)]
enum AttributeTest {
    Exists,
    Equals(Expected),
    OneOf(OneOf),
    Compare(Comparison, f64),
}

impl Predicate {
    /// The span name matches a glob where `*` stands for any text, possibly empty
    /// (`"chat *"`, `"*.completions"`, `"GET /api/*/items*"`); without `*`, the name is equal.
    /// No other character is special.
    pub fn name(pattern: &str) -> Self {
        Predicate(Kind::Name(NamePattern::glob(pattern)))
    }

    /// The span name is exactly `name` (a `*` in it is literal).
    pub fn name_exact(name: &str) -> Self {
        Predicate(Kind::Name(NamePattern::Exact(name.into())))
    }

    /// The span name starts with `prefix`.
    pub fn name_prefix(prefix: &str) -> Self {
        Predicate(Kind::Name(NamePattern::Prefix(prefix.into())))
    }

    /// The span name ends with `suffix`.
    pub fn name_suffix(suffix: &str) -> Self {
        Predicate(Kind::Name(NamePattern::Suffix(suffix.into())))
    }

    /// The start attribute `key` is present, with any value.
    pub fn attribute_exists(key: impl Into<Key>) -> Self {
        Self::attribute(key, AttributeTest::Exists)
    }

    /// The start attribute `key` equals `value`; see [`Expected`] for how types compare.
    pub fn attribute_equals(key: impl Into<Key>, value: impl Into<Expected>) -> Self {
        Self::attribute(key, AttributeTest::Equals(value.into()))
    }

    /// The string form of the start attribute `key` is one of `values` (each in its `Display`
    /// form), found with one hash lookup however many values there are.
    pub fn attribute_one_of<I>(key: impl Into<Key>, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        let values = values
            .into_iter()
            .map(|v| v.to_string().into_boxed_str())
            .collect();
        Self::attribute(key, AttributeTest::OneOf(OneOf::new(values)))
    }

    /// The start attribute `key` is a number (integer or float) that compares with `threshold`
    /// as `comparison` says. A NaN threshold is rejected by
    /// [`RuleSamplerBuilder::build`](crate::rules::RuleSamplerBuilder::build).
    pub fn attribute_compare(key: impl Into<Key>, comparison: Comparison, threshold: f64) -> Self {
        Self::attribute(key, AttributeTest::Compare(comparison, threshold))
    }

    /// The span's hivetrace event type (the `honeyhive_event_type` start attribute) is
    /// `event_type`.
    pub fn event_type(event_type: EventType) -> Self {
        Predicate(Kind::EventType(event_type))
    }

    /// Every one of `predicates` matches; true when there are none.
    pub fn all_of(predicates: impl IntoIterator<Item = Predicate>) -> Self {
        Predicate(Kind::All(predicates.into_iter().collect()))
    }

    /// At least one of `predicates` matches; false when there are none.
    pub fn any_of(predicates: impl IntoIterator<Item = Predicate>) -> Self {
        Predicate(Kind::Any(predicates.into_iter().collect()))
    }

    /// `predicate` does not match.
    #[allow(
        clippy::should_implement_trait,
        reason = "a constructor, not negation of self"
    )]
    pub fn not(predicate: Predicate) -> Self {
        Predicate(Kind::Not(Box::new(predicate)))
    }

    /// This and `other` both match.
    pub fn and(self, other: Predicate) -> Self {
        match self.0 {
            Kind::All(predicates) => {
                let mut predicates = predicates.into_vec();
                predicates.push(other);
                Predicate::all_of(predicates)
            }
            kind => Predicate::all_of([Predicate(kind), other]),
        }
    }

    /// Whether a span with this name and these start attributes matches.
    ///
    /// ```
    /// use hivetrace_sampling::rules::Predicate;
    /// use opentelemetry::KeyValue;
    ///
    /// let p = Predicate::name("chat *").and(Predicate::attribute_equals("retry", true));
    /// assert!(p.matches("chat gpt-4o", &[KeyValue::new("retry", true)]));
    /// assert!(!p.matches("chat gpt-4o", &[KeyValue::new("retry", "true")]));
    /// ```
    pub fn matches(&self, name: &str, attributes: &[KeyValue]) -> bool {
        match &self.0 {
            Kind::Name(pattern) => pattern.matches(name),
            Kind::Attribute { key, test } => test.matches(find(attributes, key)),
            Kind::EventType(event_type) => {
                match find(attributes, &Key::from_static_str(EVENT_TYPE_ATTRIBUTE)) {
                    Some(Value::String(s)) => s.as_str() == event_type.as_str(),
                    _ => false,
                }
            }
            Kind::All(predicates) => predicates.iter().all(|p| p.matches(name, attributes)),
            Kind::Any(predicates) => predicates.iter().any(|p| p.matches(name, attributes)),
            Kind::Not(predicate) => !predicate.matches(name, attributes),
        }
    }

    fn attribute(key: impl Into<Key>, test: AttributeTest) -> Self {
        Predicate(Kind::Attribute {
            key: key.into(),
            test,
        })
    }

    /// Rejects what can never be meant: a NaN threshold matches nothing, silently.
    pub(crate) fn validate(&self) -> Result<()> {
        match &self.0 {
            Kind::Attribute {
                test: AttributeTest::Compare(_, threshold),
                ..
            } if threshold.is_nan() => Err(Error::invalid(
                "Predicate::attribute_compare",
                threshold,
                "the threshold must be a number, not NaN",
            )),
            Kind::Attribute {
                test: AttributeTest::Equals(Expected::Number(n)),
                ..
            } if n.is_nan() => Err(Error::invalid(
                "Predicate::attribute_equals",
                n,
                "NaN equals nothing; compare with a number",
            )),
            Kind::All(predicates) | Kind::Any(predicates) => {
                predicates.iter().try_for_each(Predicate::validate)
            }
            Kind::Not(predicate) => predicate.validate(),
            _ => Ok(()),
        }
    }
}

/// The last value given for `key`, as when attributes are set one after another. hivetrace
/// appends the event type last, so looking from the end finds it first.
fn find<'a>(attributes: &'a [KeyValue], key: &Key) -> Option<&'a Value> {
    attributes
        .iter()
        .rfind(|kv| kv.key.as_str() == key.as_str())
        .map(|kv| &kv.value)
}

impl NamePattern {
    fn glob(pattern: &str) -> Self {
        let mut parts = pattern.split('*');
        let first = parts.next().unwrap_or_default();
        let mut rest: Vec<&str> = parts.collect();
        let Some(last) = rest.pop() else {
            return NamePattern::Exact(pattern.into());
        };
        // `**` is the same as `*`: empty middle segments match anywhere.
        rest.retain(|s| !s.is_empty());
        match (first.is_empty(), rest.as_slice(), last.is_empty()) {
            (_, [], true) => NamePattern::Prefix(first.into()),
            (true, [], false) => NamePattern::Suffix(last.into()),
            (true, [middle], true) => NamePattern::Contains((*middle).into()),
            _ => NamePattern::Glob {
                first: first.into(),
                middle: rest.iter().map(|s| (*s).into()).collect(),
                last: last.into(),
            },
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(exact) => name == &**exact,
            NamePattern::Prefix(prefix) => name.starts_with(&**prefix),
            NamePattern::Suffix(suffix) => name.ends_with(&**suffix),
            NamePattern::Contains(part) => name.contains(&**part),
            NamePattern::Glob {
                first,
                middle,
                last,
            } => {
                if name.len() < first.len() + last.len()
                    || !name.starts_with(&**first)
                    || !name.ends_with(&**last)
                {
                    return false;
                }
                // Between the prefix and the suffix; both ends are char boundaries because the
                // prefix and suffix matched.
                let Some(mut between) = name.get(first.len()..name.len() - last.len()) else {
                    return false;
                };
                // Taking the leftmost match of each segment leaves the most room for the next,
                // so this finds a match whenever one exists.
                for segment in middle.iter() {
                    match between.find(&**segment) {
                        Some(at) => between = between.get(at + segment.len()..).unwrap_or_default(),
                        None => return false,
                    }
                }
                true
            }
        }
    }
}

impl AttributeTest {
    fn matches(&self, value: Option<&Value>) -> bool {
        let Some(value) = value else {
            return false;
        };
        match self {
            AttributeTest::Exists => true,
            AttributeTest::Equals(Expected::Text(expected)) => {
                let mut buf = IntBuf::new();
                str_form(value, &mut buf) == Some(&**expected)
            }
            AttributeTest::Equals(Expected::Number(expected)) => {
                number(value).is_some_and(|n| n == *expected)
            }
            AttributeTest::Equals(Expected::Bool(expected)) => {
                matches!(value, Value::Bool(b) if b == expected)
            }
            AttributeTest::OneOf(values) => {
                let mut buf = IntBuf::new();
                str_form(value, &mut buf).is_some_and(|s| values.contains(s))
            }
            AttributeTest::Compare(comparison, threshold) => {
                number(value).is_some_and(|n| match comparison {
                    Comparison::Lt => n < *threshold,
                    Comparison::Le => n <= *threshold,
                    Comparison::Gt => n > *threshold,
                    Comparison::Ge => n >= *threshold,
                })
            }
        }
    }
}

/// An integer or float attribute as `f64`; integers beyond ±2^53 round to the nearest `f64`.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::I64(n) => Some(*n as f64),
        Value::F64(n) => Some(*n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Array;
    use proptest::prelude::*;

    /// A straightforward backtracking glob, to check the compiled one against.
    fn reference_glob(pattern: &[char], name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some(('*', rest)) => (0..=name.len()).any(|i| reference_glob(rest, &name[i..])),
            Some((c, rest)) => name.first() == Some(c) && reference_glob(rest, &name[1..]),
        }
    }

    #[test]
    fn glob_compiles_to_the_cheapest_match() {
        let kind = |p: &str| match NamePattern::glob(p) {
            NamePattern::Exact(_) => "exact",
            NamePattern::Prefix(_) => "prefix",
            NamePattern::Suffix(_) => "suffix",
            NamePattern::Contains(_) => "contains",
            NamePattern::Glob { .. } => "glob",
        };
        assert_eq!(kind("chat"), "exact");
        assert_eq!(kind("chat*"), "prefix");
        assert_eq!(kind("*"), "prefix");
        assert_eq!(kind("**"), "prefix");
        assert_eq!(kind("*chat"), "suffix");
        assert_eq!(kind("*chat*"), "contains");
        assert_eq!(kind("a*b"), "glob");
        assert_eq!(kind("*a*b*"), "glob");
    }

    #[test]
    fn glob_examples() {
        let p = Predicate::name("GET /api/*/items*");
        assert!(p.matches("GET /api/v1/items", &[]));
        assert!(p.matches("GET /api/v1/items/7", &[]));
        assert!(!p.matches("GET /api/items", &[]));
        // The prefix and suffix may not overlap.
        assert!(!Predicate::name("ab*ba").matches("aba", &[]));
        assert!(Predicate::name("ab*ba").matches("abba", &[]));
        assert!(Predicate::name("é*é").matches("éé", &[]));
        assert!(!Predicate::name("é*é").matches("é", &[]));
    }

    proptest! {
        #[test]
        fn glob_agrees_with_backtracking(
            pattern in "[ab*é]{0,8}",
            name in "[abé]{0,10}",
        ) {
            let want = reference_glob(
                &pattern.chars().collect::<Vec<_>>(),
                &name.chars().collect::<Vec<_>>(),
            );
            prop_assert_eq!(Predicate::name(&pattern).matches(&name, &[]), want);
        }
    }

    #[test]
    fn one_of_matches_with_few_and_many_values() {
        for n in [1, FEW, FEW + 1, 100] {
            let p = Predicate::attribute_one_of("k", (0..n).map(|i| format!("v{i}")));
            for i in 0..n {
                assert!(
                    p.matches("", &[KeyValue::new("k", format!("v{i}"))]),
                    "{n} {i}"
                );
            }
            assert!(
                !p.matches("", &[KeyValue::new("k", format!("v{n}"))]),
                "{n}"
            );
            assert!(!p.matches("", &[KeyValue::new("k", "")]), "{n}");
        }
    }

    #[test]
    fn literal_name_predicates_ignore_stars() {
        assert!(Predicate::name_exact("a*").matches("a*", &[]));
        assert!(!Predicate::name_exact("a*").matches("ab", &[]));
        assert!(Predicate::name_prefix("a*").matches("a*b", &[]));
        assert!(!Predicate::name_prefix("a*").matches("ab", &[]));
        assert!(Predicate::name_suffix("*b").matches("a*b", &[]));
        assert!(!Predicate::name_suffix("*b").matches("ab", &[]));
    }

    #[test]
    fn equals_compares_by_kind() {
        let attrs = |v: Value| vec![KeyValue::new("k", v)];
        let text = Predicate::attribute_equals("k", "7");
        assert!(text.matches("", &attrs(Value::from("7"))));
        assert!(text.matches("", &attrs(Value::I64(7))));
        assert!(!text.matches("", &attrs(Value::F64(7.0))));
        let number = Predicate::attribute_equals("k", 7);
        assert!(number.matches("", &attrs(Value::I64(7))));
        assert!(number.matches("", &attrs(Value::F64(7.0))));
        assert!(!number.matches("", &attrs(Value::from("7"))));
        let flag = Predicate::attribute_equals("k", false);
        assert!(flag.matches("", &attrs(Value::Bool(false))));
        assert!(!flag.matches("", &attrs(Value::from("false"))));
    }

    #[test]
    fn compare_reads_integers_and_floats_only() {
        let p = Predicate::attribute_compare("tokens", Comparison::Gt, 100.0);
        assert!(p.matches("", &[KeyValue::new("tokens", 101)]));
        assert!(p.matches("", &[KeyValue::new("tokens", 100.5)]));
        assert!(!p.matches("", &[KeyValue::new("tokens", 100)]));
        assert!(!p.matches("", &[KeyValue::new("tokens", "1000")]));
        assert!(!p.matches("", &[KeyValue::new("tokens", f64::NAN)]));
        assert!(!p.matches(
            "",
            &[KeyValue::new(
                "tokens",
                Value::Array(Array::I64(vec![1000]))
            )]
        ));
        let le = Predicate::attribute_compare("tokens", Comparison::Le, 100.0);
        assert!(le.matches("", &[KeyValue::new("tokens", 100)]));
        let lt = Predicate::attribute_compare("tokens", Comparison::Lt, 100.0);
        assert!(!lt.matches("", &[KeyValue::new("tokens", 100)]));
        let ge = Predicate::attribute_compare("tokens", Comparison::Ge, 100.0);
        assert!(ge.matches("", &[KeyValue::new("tokens", 100)]));
    }

    #[test]
    fn event_type_reads_the_hivetrace_attribute() {
        let p = Predicate::event_type(EventType::Tool);
        assert!(p.matches("", &[KeyValue::new(EVENT_TYPE_ATTRIBUTE, "tool")]));
        assert!(!p.matches("", &[KeyValue::new(EVENT_TYPE_ATTRIBUTE, "model")]));
        assert!(!p.matches("", &[KeyValue::new(EVENT_TYPE_ATTRIBUTE, 1)]));
        assert!(!p.matches("", &[]));
    }

    #[test]
    fn combinators() {
        let yes = Predicate::name("*");
        let no = Predicate::name_exact("nope");
        assert!(Predicate::all_of([]).matches("x", &[]));
        assert!(!Predicate::any_of([]).matches("x", &[]));
        assert!(!yes.clone().and(no.clone()).matches("x", &[]));
        assert!(
            yes.clone()
                .and(yes.clone())
                .and(yes.clone())
                .matches("x", &[])
        );
        assert!(Predicate::any_of([no.clone(), yes.clone()]).matches("x", &[]));
        assert!(Predicate::not(no).matches("x", &[]));
    }
}
