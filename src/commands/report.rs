//! `noa report`: write the self-contained HTML report of what was measured (with its
//! CSV tables beside it) and print the file's path on stdout.

use std::path::PathBuf;

use noa_reports::{ReportOptions, RunSelection};

use super::{Context, Outcome, UserError};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Use only this bench run: its items for the charts, its measurements for the summary.
    #[arg(long, env = noa_registry::env_vars::NOA_REPORT_RUN, value_name = "ID", conflicts_with = "all_runs")]
    pub run: Option<String>,
    /// Take per-item evidence from every run under `runs/` (default: the latest run).
    #[arg(long, env = noa_registry::env_vars::NOA_REPORT_ALL_RUNS, value_parser = clap::builder::FalseyValueParser::new())]
    pub all_runs: bool,
    /// Where to write the HTML file; the CSV files go beside it.
    /// [default: NOA_HOME/reports/index.html]
    #[arg(long, env = noa_registry::env_vars::NOA_REPORT_OUT, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: ReportArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let runs = match (args.run, args.all_runs) {
        (Some(id), _) => RunSelection::Run(id),
        (None, true) => RunSelection::All,
        (None, false) => RunSelection::Latest,
    };
    let options = ReportOptions { runs, out: args.out };
    let out = noa_reports::build(&ctx.home, &options).map_err(|e| match &e {
        noa_reports::ReportError::RunNotFound { .. } => anyhow::Error::new(
            UserError::new(e.to_string()).hint("leave out `--run` to use the latest run"),
        ),
        noa_reports::ReportError::Registry { .. } => anyhow::Error::new(
            UserError::new(e.to_string())
                .hint("fix or move the file; noa never overwrites a registry it cannot read"),
        ),
        _ => anyhow::Error::new(e),
    })?;
    println!("{}", out.html_path.display());
    if !ctx.quiet {
        let runs = if out.runs.is_empty() {
            "no bench runs".to_owned()
        } else {
            format!("runs {}", out.runs.join(", "))
        };
        eprintln!(
            "report: {} model(s) measured, evidence from {runs}; {} CSV file(s) beside it",
            out.models_measured,
            out.csv_paths.len()
        );
        for (model, why) in &out.failed_models {
            eprintln!("failed: `{model}`: {why}");
        }
        for w in &out.warnings {
            eprintln!("note: {w}");
        }
    }
    Ok(Outcome::Success)
}
