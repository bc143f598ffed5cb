//! Talking to the user: logging set-up and error rendering (`error:`, `Caused by:`,
//! `hint:`), all on stderr. stdout is reserved for data.

use std::io::Write;

use crate::commands::{GlobalArgs, Outcome, UserError};

/// `RUST_LOG` wins; otherwise `-v` raises noa's own level.
pub fn init_tracing(global: &GlobalArgs) {
    let default = match global.verbose {
        0 => "warn",
        1 => "info,noa=info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os(noa_registry::env_vars::NO_COLOR).is_none())
        .try_init();
}

/// Print an error chain and pick the exit code: a [`UserError`] anywhere in the chain
/// is the user's failure (1), anything else is internal (2).
pub fn report_error(err: &anyhow::Error) -> Outcome {
    // A closed pipe (`noa models list | head`) is not an error worth a word.
    if let Some(io) = err.downcast_ref::<std::io::Error>()
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return Outcome::Success;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {err}");
    for cause in err.chain().skip(1) {
        let _ = writeln!(stderr, "  Caused by: {cause}");
    }
    let user = err.chain().find_map(|e| e.downcast_ref::<UserError>());
    if let Some(hint) = user.and_then(|u| u.hint.as_deref()) {
        let _ = writeln!(stderr, "hint: {hint}");
    }
    if user.is_some() { Outcome::Failure } else { Outcome::Error }
}
