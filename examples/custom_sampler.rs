//! Sampling by rules, with a sampler of your own among hivetrace's.
//!
//! A simulated assistant answers 300 questions. Most go to a cheap model, some to an expensive
//! one. Traces are head-sampled at 10%, but two rules keep more:
//!
//! 1. `expensive models`: every call to an expensive model is kept, decided by
//!    `ExpensiveModels`, a `ShouldSample` written here, the way an application would write one;
//! 2. `beta users`: every request from a beta user is kept (an allow-list changed at run time:
//!    halfway through, a support ticket adds user `u-7`);
//! 3. the default: 10% of traces (the OTEP 235 consistent sampler), children following their
//!    parent.
//!
//! An `ObservedSampler` counts the decisions per rule, and the program prints them. Spans go to
//! a console exporter writing nowhere; in an application use `TracerBuilder::from_env()`.
//!
//! ```text
//! cargo run --example custom_sampler
//! ```
#![allow(
    clippy::print_stdout,
    reason = "an example prints what a user wants to see"
)]

use std::process::ExitCode;

use hivetrace::Tracer;
use hivetrace::otel::opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use hivetrace::otel::opentelemetry::{Context, KeyValue};
use hivetrace::otel::opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use hivetrace_sampling::allow_list::{AllowList, AllowListSampler};
use hivetrace_sampling::consistent::ConsistentProbabilitySampler;
use hivetrace_sampling::observed::ObservedSampler;
use hivetrace_sampling::parent::ParentBased;
use hivetrace_sampling::rules::{EventType, Predicate, RuleSampler};
use hivetrace_sampling::threshold::OtTraceState;

/// The models whose every call is worth keeping.
const EXPENSIVE_MODELS: [&str; 2] = ["gpt-4o", "claude-opus-4"];

/// Keeps every span whose `gen_ai.request.model` start attribute names an expensive model; the
/// `otherwise` sampler decides the rest.
#[derive(Clone, Debug)]
struct ExpensiveModels<S> {
    otherwise: S,
}

impl<S: ShouldSample + Clone + 'static> ShouldSample for ExpensiveModels<S> {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let expensive = attributes.iter().any(|kv| {
            kv.key.as_str() == "gen_ai.request.model"
                && EXPENSIVE_MODELS.contains(&kv.value.as_str().as_ref())
        });
        if !expensive {
            return self.otherwise.should_sample(
                parent_context,
                trace_id,
                name,
                span_kind,
                attributes,
                links,
            );
        }
        SamplingResult {
            decision: SamplingDecision::RecordAndSample,
            attributes: Vec::new(),
            // Not kept with a known probability, so no OTEP 235 threshold is passed on; a
            // sampler that wants one writes it here.
            trace_state: parent_context
                .filter(|cx| cx.has_active_span())
                .map(|cx| {
                    let parent = cx.span().span_context().trace_state().clone();
                    OtTraceState::from_trace_state(&parent)
                        .with_threshold(None)
                        .apply_to(&parent)
                })
                .unwrap_or_default(),
        }
    }
}

/// A retrieval tool: looks the question up (simulated).
#[hivetrace::trace(event_type = tool)]
fn retrieve(question: &str) -> Vec<String> {
    vec![format!("notes about {}", question.len() % 7)]
}

/// A model call. `fields(...)` makes the model a start attribute, so samplers see it.
#[hivetrace::trace(event_type = model, skip(context), fields(gen_ai.request.model = model))]
fn generate(question: &str, context: &[String], model: &str) -> String {
    format!("[{model}] {question} (from {} notes)", context.len())
}

/// One request: a chain with the user id as a start attribute.
#[hivetrace::trace(event_type = chain, fields(user.id = user))]
fn answer(question: &str, user: &str, model: &str) -> String {
    let context = retrieve(question);
    generate(question, &context, model)
}

fn head_sampler() -> hivetrace_sampling::Result<ParentBased> {
    Ok(ParentBased::new(ConsistentProbabilitySampler::new(0.1)?))
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let beta_users = AllowList::new(["u-3", "u-11"]);
    // Observers nest: this one tells allow-list hits from the head sampler's decisions.
    let beta_rule =
        ObservedSampler::per_branch(AllowListSampler::new(beta_users.clone(), head_sampler()?));
    let rules = RuleSampler::builder(head_sampler()?)
        .rule(
            "expensive models",
            Predicate::event_type(EventType::Model),
            ExpensiveModels {
                otherwise: head_sampler()?,
            },
        )
        .rule(
            "beta users",
            Predicate::attribute_exists("user.id"),
            beta_rule.clone(),
        )
        .build()?;
    let sampler = ObservedSampler::per_branch(rules);

    let tracer = Tracer::builder()
        .project("custom-sampler")
        .service_name("hivetrace-custom-sampler")
        .console_writer(std::io::sink())
        .sampler(sampler.clone())
        .build()?;
    tracer.install_global();

    const REQUESTS: usize = 300;
    for i in 0..REQUESTS {
        if i == REQUESTS / 2 {
            // Takes effect on the next decision, on every thread; no restart, no lock.
            beta_users.insert("u-7");
        }
        let user = format!("u-{}", i % 20);
        let model = match i % 10 {
            0 => "gpt-4o",
            5 => "claude-opus-4",
            _ => "gpt-4o-mini",
        };
        let _ = answer("How do I export my data?", &user, model);
    }

    Tracer::uninstall_global();
    tracer.shutdown()?;

    let snapshot = sampler.snapshot();
    println!(
        "{REQUESTS} requests, {} spans decided\n",
        snapshot.decisions.total
    );
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>7}",
        "rule", "spans", "sampled", "dropped", "rate"
    );
    for rule in &snapshot.rules {
        let d = rule.decisions;
        println!(
            "{:<18} {:>8} {:>8} {:>8} {:>6.1}%",
            rule.name,
            d.total,
            d.sampled,
            d.dropped,
            100.0 * d.effective_rate()
        );
    }
    let all = snapshot.decisions;
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>6.1}%",
        "all",
        all.total,
        all.sampled,
        all.dropped,
        100.0 * all.effective_rate()
    );

    let beta = beta_rule.snapshot();
    if let (Some(hits), Some(rest)) = (beta.rule("allow-list"), beta.rule("inner")) {
        println!(
            "\nbeta users: {} requests kept by the allow-list, {} of {} others by head sampling",
            hits.sampled, rest.sampled, rest.total
        );
    }

    let stats = tracer.stats();
    println!("{} spans exported", stats.exported);
    let expensive_calls = (0..REQUESTS).filter(|i| i % 10 == 0 || i % 10 == 5).count() as u64;
    let kept_expensive = snapshot.rule("expensive models").map_or(0, |d| d.sampled);
    if kept_expensive < expensive_calls || stats.exported != all.sampled {
        eprintln!(
            "unexpected: {kept_expensive} of {expensive_calls} expensive calls kept, \
             {} spans exported for {} sampled",
            stats.exported, all.sampled
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
