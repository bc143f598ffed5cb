//! The page shell: head, inline stylesheet, header and the order of the sections.

use super::{escape, evidence, provenance, sections};
use crate::Report;

/// Render the whole document.
pub fn render(r: &Report) -> String {
    let mut body = String::new();
    body.push_str(&sections::header(r));
    body.push_str(&sections::verdict(r));
    body.push_str(&sections::alerts(r));
    body.push_str(&sections::contents());
    body.push_str(&sections::summary_table(r));
    body.push_str(&evidence::tradeoff(r));
    body.push_str(&evidence::suites(r));
    body.push_str(&evidence::latency(r));
    body.push_str(&evidence::throughput(r));
    body.push_str(&provenance::routing(r));
    body.push_str(&sections::declared(r));
    body.push_str(&provenance::manifests(r));
    body.push_str(&provenance::files(r));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"noa {}\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&format!("noa report — {}", r.generated_at)),
    )
}

const CSS: &str = r#"
:root { --ink:#1b1f24; --muted:#5b6470; --line:#d8dde3; --soft:#f4f6f8; --accent:#0b5fa5; --good:#0a6b4f; --bad:#a23b12; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; color: var(--ink); background: #fff;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
  line-height: 1.5; font-variant-numeric: tabular-nums; }
main { max-width: 1120px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 2rem; margin: 0 0 .25rem; letter-spacing: -.01em; }
h2 { font-size: 1.35rem; margin: 2.75rem 0 .5rem; padding-bottom: .3rem; border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .4rem; }
p, li { max-width: 72ch; }
.lede { color: var(--muted); margin: 0 0 1.5rem; }
.meta { color: var(--muted); font-size: .9rem; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: .86em; }
.hash { word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: .9rem; margin: 1rem 0; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: .85rem 1rem; background: #fff; }
.card.win { border-left: 6px solid var(--good); }
.card.none { background: var(--soft); border-style: dashed; }
.card .uc { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); font-weight: 600; }
.card .model { font-size: 1.25rem; font-weight: 700; margin: .15rem 0 .35rem; word-break: break-word; }
.card .facts { font-size: .88rem; color: var(--ink); }
.card .note { font-size: .82rem; color: var(--muted); margin-top: .35rem; }
.meter { position: relative; height: 10px; background: var(--soft); border: 1px solid var(--line); border-radius: 5px; margin: .4rem 0; }
.meter .ci { position: absolute; top: 2px; height: 4px; background: #7a8794; border-radius: 2px; }
.meter .val { position: absolute; top: -4px; width: 3px; height: 16px; background: var(--ink); }
.badge { display: inline-block; font-size: .72rem; font-weight: 700; padding: .05rem .45rem; border-radius: 999px; border: 1px solid currentColor; vertical-align: middle; }
.badge.best { color: var(--good); }
.badge.fail { color: var(--bad); }
.badge.declared { color: var(--muted); }
.alert { border: 1px solid var(--bad); border-left: 6px solid var(--bad); border-radius: 8px; padding: .75rem 1rem; margin: 1rem 0; background: #fff8f5; }
.alert.info { border-color: var(--line); border-left-color: var(--accent); background: #f6f9fc; }
.alert h3 { margin: 0 0 .3rem; font-size: 1rem; }
.alert ul { margin: .2rem 0 0; padding-left: 1.2rem; }
nav.toc { font-size: .9rem; margin: 1.5rem 0 0; }
nav.toc a { margin-right: 1rem; color: var(--accent); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .4rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 650; background: var(--soft); position: sticky; top: 0; }
td.num, th.num { text-align: right; }
td.best { background: #eaf6f1; font-weight: 600; }
td.na { color: var(--muted); font-style: italic; }
td.failed { color: var(--bad); }
.cell-main { font-size: 1rem; }
.cell-sub { display: block; color: var(--muted); font-size: .78rem; font-weight: 400; }
figure { margin: 1rem 0 1.5rem; }
figure svg { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 8px; }
figure svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
figcaption { color: var(--muted); font-size: .85rem; margin-top: .35rem; max-width: 80ch; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 1rem; }
.grid2 figure { margin: 0; }
.empty { color: var(--muted); font-style: italic; border: 1px dashed var(--line); border-radius: 8px; padding: .75rem 1rem; }
details { margin: .5rem 0; }
summary { cursor: pointer; font-weight: 600; }
pre { background: var(--soft); padding: .75rem; border-radius: 6px; overflow-x: auto; font-size: .8rem; }
@media print { h2 { break-after: avoid; } figure, .card { break-inside: avoid; } }
"#;
