//! One module per subcommand. Each exposes its clap arguments and a `run` that returns
//! an [`Outcome`]; errors bubble up as `anyhow::Error` and are printed by `main`.

pub mod bench;
pub mod doctor;
pub mod env;
pub mod evalsets;
pub mod models;
pub mod models_remote;
pub mod replay;
pub mod report;
pub mod route;
pub mod serve;
pub mod speed;

use std::process::ExitCode;

use noa_registry::{NoaHome, env_vars};

/// Options every subcommand takes.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Where models, the registry, runs and reports live.
    #[arg(long, global = true, env = env_vars::NOA_HOME, value_name = "DIR")]
    pub home: Option<std::path::PathBuf>,
    /// Print nothing but data and errors; no progress bars.
    #[arg(long, short, global = true, env = env_vars::NOA_QUIET, value_parser = clap::builder::FalseyValueParser::new())]
    pub quiet: bool,
    /// More log output (repeat for more).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl GlobalArgs {
    pub fn context(&self) -> Context {
        let home = self.home.clone().map_or_else(NoaHome::from_env, NoaHome::new);
        Context { home, quiet: self.quiet }
    }
}

/// Where llama.cpp runs, for the commands that load models (bench, serve, speed).
#[derive(Debug, Clone, clap::Args)]
pub struct IsolationArgs {
    /// Run llama.cpp inside this process instead of one supervised worker process per
    /// model. Saves a process start per model, but a crash in llama.cpp (an illegal
    /// instruction, a failed assert, the OOM killer) then ends noa itself.
    #[arg(long, env = env_vars::NOA_ENGINE_IN_PROCESS, value_parser = clap::builder::FalseyValueParser::new())]
    pub in_process: bool,
    /// Seconds an engine worker may stay silent while requests wait on it before it is
    /// taken as hung and killed (its requests fail; the next starts a new worker).
    #[arg(long, env = env_vars::NOA_ENGINE_HANG_TIMEOUT, default_value_t = 120, value_name = "SECONDS")]
    pub hang_timeout: u64,
}

impl IsolationArgs {
    /// The worker command (this executable in worker mode), or `None` in process.
    pub fn worker(&self) -> anyhow::Result<Option<noa_engine::WorkerCommand>> {
        if self.in_process {
            return Ok(None);
        }
        let mut cmd = noa_engine::WorkerCommand::current_exe(&["engine-worker"]).map_err(|e| {
            anyhow::anyhow!("cannot find the noa executable to start engine workers: {e}")
        })?;
        cmd.hang_timeout = std::time::Duration::from_secs(self.hang_timeout.max(1));
        Ok(Some(cmd))
    }
}

/// What every subcommand gets from the global options.
#[derive(Debug, Clone)]
pub struct Context {
    pub home: NoaHome,
    pub quiet: bool,
}

impl Context {
    /// Progress bars only on a terminal and never with `--quiet`.
    pub fn show_progress(&self) -> bool {
        use std::io::IsTerminal;
        !self.quiet && std::io::stderr().is_terminal()
    }
}

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Did what was asked: exit 0.
    Success,
    /// The user's failure (bad argument, threshold missed, verification failed): exit 1.
    Failure,
    /// Something broke inside noa: exit 2.
    Error,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Failure => ExitCode::from(1),
            Outcome::Error => ExitCode::from(2),
        }
    }
}

/// An error that is the user's to fix (exit 1), with an optional hint line.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// `value` as pretty JSON and a final newline: what every `--json` prints.
pub fn write_json(
    out: &mut impl std::io::Write,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}
