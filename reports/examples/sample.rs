//! Writes the report of the tests' realistic `NOA_HOME` (three models, one failed, two
//! runs, replay results, a feedback log) into the folder given as the first argument,
//! to look at the page while working on it:
//! `cargo run --release -p noa-reports --example sample -- /tmp/noa-sample`.

#[path = "../tests/fixture/mod.rs"]
mod fixture;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root =
        std::env::args_os().nth(1).map(std::path::PathBuf::from).ok_or("usage: sample <dir>")?;
    let home = fixture::realistic(&root);
    let out = noa_reports::build(&home, &noa_reports::ReportOptions::default())?;
    println!("{}", out.html_path.display());
    Ok(())
}
