//! `noa`: parse the command line, call the library crates, map the outcome to an exit
//! code. Everything of substance lives in the workspace crates; each subcommand is one
//! file under `commands/`.

mod commands;
mod printer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{GlobalArgs, Outcome};

/// Measure your local LLMs on this machine and route every request to the best one.
#[derive(Debug, Parser)]
#[command(name = "noa", version, about, propagate_version = true, after_help = ENV_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// The `--help` footer: where the environment variables are listed.
const ENV_HELP: &str = "Every option can also be set by an environment variable ([env: NOA_…] in \
each command's --help). `noa env` lists them all, with what each sets and which commands read it.";

#[derive(Debug, Subcommand)]
enum Command {
    /// List, fetch, verify, add and remove models.
    #[command(subcommand)]
    Models(commands::models::ModelsCommand),
    /// Measure prompt and generation tokens/s the way llama-bench does.
    Speed(commands::speed::SpeedArgs),
    /// Run installed models through the evaluation suites and record what they score.
    Bench(commands::bench::BenchArgs),
    /// List evaluation suites, or fetch external evaluation data.
    #[command(subcommand)]
    Evalsets(commands::evalsets::EvalsetsCommand),
    /// Serve routing decisions and OpenAI-compatible chat completions over HTTP.
    Serve(commands::serve::ServeArgs),
    /// Ask the router for the best model for a task, and why.
    Route(commands::route::RouteArgs),
    /// Score routing policies offline on the per-item outcomes of bench runs.
    Replay(commands::replay::ReplayArgs),
    /// Write the HTML report of what was measured.
    Report(commands::report::ReportArgs),
    /// Check this machine and build: CPU features, an engine self-test per installed
    /// architecture, disk, memory, evaluation data.
    Doctor(commands::doctor::DoctorArgs),
    /// List every environment variable noa reads, what it sets and which commands read it.
    Env(commands::env::EnvArgs),
    /// Run one model for a parent `noa` over stdin/stdout (started by noa itself).
    #[command(hide = true, name = "engine-worker")]
    EngineWorker,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; a bad argument is the user's to fix, so
            // it exits 1 like every other user error (clap's own code is 2, which the
            // README reserves for internal errors).
            return if e.use_stderr() { Outcome::Failure.into() } else { ExitCode::SUCCESS };
        }
    };
    printer::init_tracing(&cli.global);
    let ctx = cli.global.context();
    let result = match cli.command {
        Command::Models(c) => commands::models::run(c, &ctx),
        Command::Speed(a) => commands::speed::run(a, &ctx),
        Command::Bench(a) => commands::bench::run(a, &ctx),
        Command::Evalsets(c) => commands::evalsets::run(c, &ctx),
        Command::Serve(a) => commands::serve::run(a, &ctx),
        Command::Route(a) => commands::route::run(a, &ctx),
        Command::Replay(a) => commands::replay::run(a, &ctx),
        Command::Report(a) => commands::report::run(a, &ctx),
        Command::Doctor(a) => commands::doctor::run(a, &ctx),
        Command::Env(a) => commands::env::run(a),
        Command::EngineWorker => {
            return ExitCode::from(u8::try_from(noa_engine::worker_main()).unwrap_or(2));
        }
    };
    match result {
        Ok(outcome) => outcome.into(),
        Err(err) => printer::report_error(&err).into(),
    }
}
