//! Routing results (offline replay and live feedback totals) and the provenance of
//! every number: the run manifests with model hashes, suite versions, engine build and
//! hardware, the registry measurements used, and the CSV files written beside the page.

use super::escape;
use crate::Report;
use crate::charts::{fmt_ms, fmt_num};

pub fn routing(r: &Report) -> String {
    let mut out = String::from("<section id=\"routing\">\n<h2>Routing policies</h2>\n");
    match &r.inputs.replay {
        None => out.push_str(
            "<p class=\"empty\" id=\"replay-missing\">No replay results yet. Run <code>noa replay</code> to score the \
             routing policies offline on the bench runs' per-item outcomes, then <code>noa report</code> again.</p>\n",
        ),
        Some(rep) => {
            out.push_str(&format!(
                "<p class=\"lede\">Offline replay of runs {} ({} requests per seed, seeds {}), created {}. Regret is \
                 the quality lost against choosing the best model for every item (oracle) or the best single model per \
                 use case.</p>\n",
                rep.runs.iter().map(|x| format!("<code>{}</code>", escape(x))).collect::<Vec<_>>().join(", "),
                rep.requests,
                escape(&rep.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
                escape(&rep.created_at)
            ));
            if let Some(f) = r.figures.replay.iter().find(|f| f.id == "chart-replay-regret") {
                out.push_str(&fig(f));
            }
            out.push_str("<div class=\"grid2\">\n");
            for f in r.figures.replay.iter().filter(|f| f.id != "chart-replay-regret") {
                out.push_str(&fig(f));
            }
            out.push_str("</div>\n");
            out.push_str(
                "<div class=\"scroll\"><table id=\"replay-table\"><thead><tr><th>policy</th><th class=\"num\">mean quality</th>\
                 <th class=\"num\">mean latency</th><th class=\"num\">regret vs oracle</th>\
                 <th class=\"num\">regret vs best fixed</th><th>share of requests</th></tr></thead><tbody>\n",
            );
            for p in &rep.policies {
                let share: Vec<String> =
                    p.model_share.iter().map(|(m, s)| format!("{} {:.0}%", escape(m), s * 100.0)).collect();
                out.push_str(&format!(
                    "<tr><th scope=\"row\">{}</th><td class=\"num\">{:.3}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                    escape(&p.policy),
                    p.mean_quality,
                    fmt_ms(p.mean_latency_ms),
                    fmt_num(p.regret_vs_oracle),
                    fmt_num(p.regret_vs_best_fixed),
                    share.join(", ")
                ));
            }
            out.push_str("</tbody></table></div>\n");
        }
    }
    out.push_str("<h3 id=\"live\">Live router totals</h3>\n");
    match &r.inputs.feedback {
        None => out.push_str(
            "<p class=\"empty\" id=\"feedback-missing\">No feedback log yet: it appears once <code>noa serve</code> \
             has routed requests and received feedback.</p>\n",
        ),
        Some(t) => {
            let mut notes = vec![format!("{} feedback records", t.lines)];
            if t.unreadable > 0 {
                notes.push(format!("{} unreadable", t.unreadable));
            }
            if t.unattributed_feedback > 0 {
                notes.push(format!("{} whose model is unknown", t.unattributed_feedback));
            }
            notes.push(format!(
                "{} decisions in <code>router/decisions.jsonl</code>",
                t.decisions
            ));
            out.push_str(&format!("<p>From <code>router/feedback.jsonl</code>: {}.</p>\n", notes.join(", ")));
            out.push_str(
                "<table id=\"feedback-table\"><thead><tr><th>model</th><th class=\"num\">decisions</th>\
                 <th class=\"num\">rewards</th><th class=\"num\">mean reward</th><th class=\"num\">mean latency</th>\
                 <th>use cases</th></tr></thead><tbody>\n",
            );
            for (m, x) in &t.by_model {
                out.push_str(&format!(
                    "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                    escape(m),
                    x.decisions,
                    x.feedback,
                    x.mean_reward().map(|v| format!("{v:.3}")).unwrap_or_else(|| "—".into()),
                    x.mean_latency_ms().map(fmt_ms).unwrap_or_else(|| "—".into()),
                    escape(&x.use_cases.iter().cloned().collect::<Vec<_>>().join(", ")),
                ));
            }
            out.push_str("</tbody></table>\n");
        }
    }
    out.push_str("</section>\n");
    out
}

fn fig(f: &crate::figures::Figure) -> String {
    format!(
        "<figure id=\"{}\" class=\"chart\">{}<figcaption>{}</figcaption></figure>\n",
        escape(&f.id),
        f.svg,
        escape(&f.caption)
    )
}

pub fn manifests(r: &Report) -> String {
    let mut out = String::from(
        "<section id=\"provenance\">\n<h2>Provenance</h2>\n<p class=\"lede\">Every figure above traces to a run: \
         the exact model files (sha256), suite versions, engine build and hardware.</p>\n",
    );
    if r.inputs.runs.is_empty() {
        out.push_str(
            "<p class=\"empty\">No bench runs selected or found under <code>runs/</code>.</p>\n",
        );
    }
    for run in &r.inputs.runs {
        out.push_str(&format!("<h3>Run <code>{}</code></h3>\n", escape(&run.id)));
        let Some(m) = &run.manifest else {
            out.push_str(&format!(
                "<p class=\"empty\">No manifest; {} item records.</p>\n",
                run.items.len()
            ));
            continue;
        };
        let h = &m.hardware;
        out.push_str(&format!(
            "<table class=\"kv\"><tbody><tr><th>started</th><td>{}</td></tr><tr><th>finished</th><td>{}</td></tr>\
             <tr><th>engine build</th><td><code>{}</code></td></tr><tr><th>hardware</th><td>{} · {} cores · {:.1} GiB · \
             GPU {} · {} · fingerprint <code>{}</code></td></tr><tr><th>items read</th><td>{}</td></tr></tbody></table>\n",
            escape(&m.started_at),
            escape(m.finished_at.as_deref().unwrap_or("not finished")),
            escape(&m.engine_build),
            escape(&h.cpu),
            h.cores,
            h.memory_bytes as f64 / (1u64 << 30) as f64,
            escape(h.gpu.as_deref().unwrap_or("none")),
            escape(&h.os),
            escape(&h.id),
            run.items.len(),
        ));
        out.push_str(
            "<table class=\"run-models\"><thead><tr><th>model</th><th>sha256</th><th>status</th><th class=\"num\">load</th>\
             <th class=\"num\">peak memory</th></tr></thead><tbody>\n",
        );
        for x in &m.models {
            let status = match &x.error {
                Some(e) => {
                    format!("<span class=\"badge fail\">{}</span> {}", escape(&x.status), escape(e))
                }
                None => escape(&x.status),
            };
            out.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td class=\"mono hash\">{}</td><td>{status}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td></tr>\n",
                escape(&x.id),
                escape(&x.sha256),
                x.load_ms.map(fmt_ms).unwrap_or_else(|| "—".into()),
                x.peak_memory_bytes.map(|b| format!("{:.0} MiB", b as f64 / 1048576.0)).unwrap_or_else(|| "—".into()),
            ));
        }
        out.push_str("</tbody></table>\n<table class=\"run-suites\"><thead><tr><th>suite</th><th>version</th><th>use case</th>\
                      <th class=\"num\">items</th><th>note</th></tr></thead><tbody>\n");
        for s in &m.suites {
            out.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                escape(&s.id),
                escape(&s.version),
                s.use_case,
                s.items,
                s.skipped.as_deref().map(|w| format!("skipped: {}", escape(w))).unwrap_or_default(),
            ));
        }
        out.push_str("</tbody></table>\n");
        let cached = run.items.iter().filter(|i| i.cached_from.is_some()).count();
        if cached > 0 {
            out.push_str(&format!(
                "<p>{cached} of {} item records were reused from earlier identical runs (same model file, suite \
                 version, prompt, settings and engine build); their timings are those of the earlier run.</p>\n",
                run.items.len()
            ));
        }
        if !m.notes.is_empty() {
            out.push_str("<ul class=\"run-notes\">\n");
            for n in &m.notes {
                out.push_str(&format!("<li>{}</li>\n", escape(n)));
            }
            out.push_str("</ul>\n");
        }
        let settings = serde_json::to_string_pretty(&m.settings).unwrap_or_default();
        out.push_str(&format!(
            "<details><summary>Run settings</summary><pre>{}</pre></details>\n",
            escape(&settings)
        ));
    }
    if !r.summary.figures.is_empty() {
        out.push_str(&format!(
            "<p>The summary uses {} (model, suite) figures: {} from the registry, {} from run items. All of them, with run \
             ids, engine builds and hardware fingerprints, are in <a href=\"measurements.csv\">measurements.csv</a>.</p>\n",
            r.summary.figures.len(),
            r.summary.figures.iter().filter(|f| f.source == crate::summary::Source::Registry).count(),
            r.summary.figures.iter().filter(|f| f.source == crate::summary::Source::Items).count(),
        ));
    }
    out.push_str("</section>\n");
    out
}

pub fn files(r: &Report) -> String {
    let mut out = String::from(
        "<section id=\"files\">\n<h2>CSV files</h2>\n<p class=\"lede\">The tables behind this page, written beside it.</p>\n<ul>\n",
    );
    for (name, what) in &r.csv_files {
        out.push_str(&format!(
            "<li><a href=\"{0}\"><code>{0}</code></a> — {1}</li>\n",
            escape(name),
            escape(what)
        ));
    }
    out.push_str("</ul>\n</section>\n");
    out
}
