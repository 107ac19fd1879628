//! hivetrace's own automation.
//!
//! `cargo xtask ci` runs, in order: rustfmt check, clippy with `-D warnings`, the workspace
//! tests with all features, rustdoc with `-D warnings`, and the `quickstart` example, checking
//! that it exits 0 and wrote spans to its local trace file, then the other examples (each exits
//! non-zero when it did not see what it demonstrates).
//! `cargo xtask bench` runs the criterion benches of every crate.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <ci | bench [criterion args]>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("\n==> {step}");
    let started = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: could not start: {e}"))?;
    eprintln!("<== {step}: {status} in {:.1?}", started.elapsed());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn ci() -> Result<(), String> {
    run("fmt", cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "test",
        cargo().args(["test", "--workspace", "--all-features", "--no-fail-fast"]),
    )?;
    run(
        "doc",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    quickstart()?;
    for example in EXAMPLES {
        run(
            &format!("{example} example"),
            cargo()
                .args([
                    "run",
                    "--quiet",
                    "--package",
                    "hivetrace-examples",
                    "--example",
                    example,
                ])
                // The monitoring example serves /metrics for a while; two seconds show it.
                .env("MONITORING_SECONDS", "2"),
        )?;
    }
    Ok(())
}

/// The examples CI runs besides the quickstart: each exits 0 only when it saw what it
/// demonstrates.
const EXAMPLES: [&str; 5] = [
    "custom_sampler",
    "distributed",
    "canary",
    "monitoring",
    "resilient_export",
];

/// Runs the quickstart with no configuration and checks the file it wrote.
fn quickstart() -> Result<(), String> {
    let dir = root().join("target").join("xtask-quickstart");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let file = dir.join("hivetrace-traces.jsonl");
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "--package",
        "hivetrace-examples",
        "--example",
        "quickstart",
    ])
    .env("HH_TRACE_FILE", &file);
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "HH_API_KEY",
        "HH_API_URL",
    ] {
        cmd.env_remove(var);
    }
    run("quickstart", &mut cmd)?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("quickstart wrote no trace file at {}: {e}", file.display()))?;
    let spans = text.matches("\"spanId\"").count();
    if spans == 0 {
        return Err(format!(
            "quickstart's trace file {} holds no spans",
            file.display()
        ));
    }
    eprintln!(
        "quickstart wrote {spans} spans in {} lines to {}",
        text.lines().count(),
        file.display()
    );
    Ok(())
}

fn bench(extra: &[String]) -> Result<(), String> {
    let targets: [(&str, &[&str]); 7] = [
        ("hivetrace-core", &["--bench", "span"]),
        ("hivetrace-macros", &["--bench", "trace"]),
        ("hivetrace-sampling", &["--benches"]),
        ("hivetrace-correlation", &["--benches"]),
        ("hivetrace-resilience", &["--benches"]),
        ("hivetrace-metrics", &["--benches"]),
        ("hivetrace-routing", &["--benches"]),
    ];
    for (package, selection) in targets {
        run(
            &format!("bench {package}"),
            cargo()
                .args(["bench", "--package", package])
                .args(selection)
                .arg("--")
                .args(extra),
        )?;
    }
    Ok(())
}
