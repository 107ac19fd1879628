//! hivetrace's own automation.
//!
//! `cargo xtask ci` runs, in order: rustfmt check, clippy with `-D warnings` (all features,
//! then each crate without its default features and the facade with each optional crate on
//! its own: [`FEATURE_SETS`]), the workspace tests with all features, rustdoc with `-D warnings`, and the `quickstart` example, checking
//! that it exits 0 and wrote spans to its local trace file, then the other examples (each exits
//! non-zero when it did not see what it demonstrates).
//! `cargo xtask bench` runs the criterion benches of every crate.

use std::env;
use std::ffi::OsString;
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
    for (package, features) in FEATURE_SETS {
        let mut cmd = cargo();
        cmd.args(["clippy", "--quiet", "--lib", "--package", package])
            .arg("--no-default-features");
        if !features.is_empty() {
            cmd.args(["--features", features]);
        }
        cmd.args(["--", "-D", "warnings"]);
        run(&format!("features: {package} [{features}]"), &mut cmd)?;
    }
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

/// Feature sets that must build warning-free on their own, besides `--all-features`: each
/// crate without its defaults, and the facade with each optional crate alone (and with the
/// features that reach into it), so a `cfg` that only holds with every feature on is caught.
const FEATURE_SETS: [(&str, &str); 16] = [
    ("hivetrace-core", ""),
    ("hivetrace-correlation", ""),
    ("hivetrace-metrics", ""),
    ("hivetrace-metrics", "http"),
    ("hivetrace-resilience", ""),
    ("hivetrace-routing", ""),
    ("hivetrace-sampling", ""),
    ("hivetrace", ""),
    ("hivetrace", "sampling"),
    ("hivetrace", "correlation"),
    ("hivetrace", "correlation,tower"),
    ("hivetrace", "resilience"),
    ("hivetrace", "resilience,tower,tokio,prometheus"),
    ("hivetrace", "metrics"),
    ("hivetrace", "metrics-server"),
    ("hivetrace", "routing,tower"),
];

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
    let mut cmd = quickstart_command(&file, env::vars_os().map(|(name, _)| name));
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

/// `cargo run` of the quickstart, writing to `file`, without the tracing variables among the
/// environment's `names` (`OTEL_*`, `HH_*`, `HONEYHIVE_*`): any of them could send the spans
/// elsewhere than the file checked (`HH_INGESTION_API_KEY` or `HH_SERVER_URL`: to HoneyHive,
/// with the key).
fn quickstart_command(file: &Path, names: impl Iterator<Item = OsString>) -> Command {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "--package",
        "hivetrace-examples",
        "--example",
        "quickstart",
    ]);
    for name in names {
        let tracing = name.to_str().is_some_and(|name| {
            ["OTEL_", "HH_", "HONEYHIVE_"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
        });
        if tracing {
            cmd.env_remove(name);
        }
    }
    cmd.env("HH_TRACE_FILE", file);
    cmd
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn the_quickstart_runs_without_any_tracing_configuration() {
        let file = Path::new("/tmp/traces.jsonl");
        let names = [
            "HH_INGESTION_API_KEY",
            "HH_SERVER_URL",
            "HONEYHIVE_SERVER_URL",
            "HH_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "HH_TRACE_FILE",
            "PATH",
        ];
        let cmd = quickstart_command(file, names.iter().map(OsString::from));
        let envs: Vec<(&OsStr, Option<&OsStr>)> = cmd.get_envs().collect();
        for name in &names[..6] {
            assert!(
                envs.contains(&(OsStr::new(name), None)),
                "{name} is not removed: {envs:?}"
            );
        }
        assert!(envs.contains(&(OsStr::new("HH_TRACE_FILE"), Some(file.as_os_str()))));
        assert!(!envs.iter().any(|(name, _)| *name == "PATH"));
    }
}
