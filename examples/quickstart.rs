//! A small simulated LLM application, traced with hivetrace.
//!
//! A chain answers three questions: for each it calls a retrieval tool and a model (both
//! simulated, no network), and the spans nest chain → tool and model, with enrichment on each.
//! One question hits an unavailable index, recorded as an error on the tool's span.
//!
//! With no configuration, spans go to the local file `hivetrace-traces.jsonl` (OTLP JSON lines,
//! `HH_TRACE_FILE` to move it) and the program prints where and how many. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `HH_API_KEY`) set, they are exported there instead.
//!
//! ```text
//! cargo run --example quickstart
//! ```
#![allow(
    clippy::print_stdout,
    reason = "an example prints what a user wants to see"
)]

use std::fmt;
use std::process::ExitCode;

use hivetrace::{Conventions, Tracer, TracerBuilder, enrich_span};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Document {
    id: u32,
    title: &'static str,
    score: f64,
}

/// The retrieval index was unavailable: an application's own error type.
#[derive(Debug)]
struct IndexUnavailable(&'static str);

impl fmt::Display for IndexUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "index {} is unavailable", self.0)
    }
}

impl std::error::Error for IndexUnavailable {}

const CORPUS: [Document; 3] = [
    Document {
        id: 1,
        title: "Resetting your password",
        score: 0.0,
    },
    Document {
        id: 2,
        title: "Billing cycles explained",
        score: 0.0,
    },
    Document {
        id: 3,
        title: "Exporting your data",
        score: 0.0,
    },
];

/// A retrieval tool: scores documents by shared words; the "archive" index is down.
/// `#[trace]` records the arguments, the returned documents, and the error when it fails.
#[hivetrace::trace(event_type = tool, config(top_k = 2), err)]
fn retrieve(question: &str, index: &'static str) -> Result<Vec<Document>, IndexUnavailable> {
    if index == "archive" {
        return Err(IndexUnavailable(index));
    }
    let words: Vec<String> = question
        .to_lowercase()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut docs: Vec<Document> = CORPUS
        .iter()
        .map(|d| {
            let title = d.title.to_lowercase();
            let hits = words.iter().filter(|w| title.contains(w.as_str())).count();
            Document {
                id: d.id,
                title: d.title,
                score: hits as f64 / words.len().max(1) as f64,
            }
        })
        .collect();
    docs.sort_by(|a, b| b.score.total_cmp(&a.score));
    docs.truncate(2);
    enrich_span(|e| {
        e.metrics("documents_returned", docs.len());
    });
    Ok(docs)
}

/// A model call: builds an answer from the documents and reports token usage.
#[hivetrace::trace(event_type = model, skip(docs), config(model = "gpt-4o-mini", provider = "openai"))]
fn generate(question: &str, docs: &[Document]) -> String {
    let context: Vec<&str> = docs.iter().map(|d| d.title).collect();
    let answer = match context.first() {
        Some(best) => format!("See \"{best}\" for: {question}"),
        None => "I could not find anything about that.".to_owned(),
    };
    let prompt_tokens = (question.len() + context.join(" ").len()) / 4;
    let completion_tokens = answer.len() / 4;
    enrich_span(|e| {
        e.config("temperature", 0.2)
            .inputs(
                "context",
                context.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
            .metrics("prompt_tokens", prompt_tokens)
            .metrics("completion_tokens", completion_tokens);
    });
    answer
}

/// The chain: retrieve, then generate; a retrieval failure is answered with an apology.
/// `user.id` is a start attribute, so a sampler can decide on it.
#[hivetrace::trace(event_type = chain, fields(user.id = user))]
fn answer(question: &str, index: &'static str, user: &str) -> String {
    enrich_span(|e| {
        e.metadata("user_id", user.to_owned())
            .user_properties("plan", "pro");
    });
    let reply = match retrieve(question, index) {
        Ok(docs) => generate(question, &docs),
        Err(error) => format!("Sorry, {error}."),
    };
    enrich_span(|e| {
        e.feedback("rating", 5);
    });
    reply
}

fn main() -> ExitCode {
    let tracer = match TracerBuilder::from_env()
        .project("quickstart")
        .service_name("hivetrace-quickstart")
        .conventions(Conventions::all())
        .build()
    {
        Ok(tracer) => tracer,
        Err(error) => {
            eprintln!("could not configure tracing: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("tracing to {}", tracer.destination());
    // `#[trace]` uses the global tracer.
    tracer.install_global();

    let questions = [
        ("How do I reset my password?", "help-center", "u-1"),
        ("When are billing cycles?", "help-center", "u-2"),
        ("Where is my old invoice?", "archive", "u-3"),
    ];
    for (question, index, user) in questions {
        let reply = answer(question, index, user);
        println!("Q: {question}\nA: {reply}\n");
    }

    Tracer::uninstall_global();
    if let Err(error) = tracer.shutdown() {
        eprintln!("export did not finish: {error}");
        return ExitCode::FAILURE;
    }
    let stats = tracer.stats();
    println!(
        "{} spans exported to {} ({} dropped, {} export errors)",
        stats.exported,
        tracer.destination(),
        stats.dropped,
        stats.export_errors
    );
    if stats.exported == 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
