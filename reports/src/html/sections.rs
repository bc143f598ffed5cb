//! The top of the report: the bench's decision per use case, who wins each use case,
//! what failed, the summary table of measured figures, and (apart, labelled) the
//! declared priors.

use noa_registry::{Decision, DecisionStatus, PairStatus, UseCase};

use super::{escape, fmt_quality, use_case_title};
use crate::Report;
use crate::charts::{fmt_ms, fmt_num};

pub fn header(r: &Report) -> String {
    let runs = if r.inputs.runs.is_empty() {
        "no bench runs".to_owned()
    } else {
        r.inputs
            .runs
            .iter()
            .map(|x| format!("<code>{}</code>", escape(&x.id)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let host = r
        .inputs
        .runs
        .iter()
        .rev()
        .find_map(|x| x.manifest.as_ref())
        .map(|m| format!(" · {} ({} cores)", escape(&m.hardware.cpu), m.hardware.cores))
        .unwrap_or_default();
    format!(
        "<header>\n<h1>What your models are worth on this machine</h1>\n\
         <p class=\"meta\">noa report · generated {} · {} item records from {runs}{host}</p>\n</header>\n",
        escape(&r.generated_at),
        r.items.items
    )
}

/// One card per use case: the winner, its numbers, and whether the lead is real.
pub fn verdict(r: &Report) -> String {
    let mut out =
        String::from("<section id=\"verdict\">\n<h2>Which model wins each use case</h2>\n");
    out.push_str(&decisions(r));
    out.push_str(
        "<p class=\"lede\">Per model, its own items: highest measured quality wins; ties go to the \
         lower p95 latency. The bar shows the score on a 0–1 scale with its 95% interval.</p>\n\
         <div class=\"cards\">\n",
    );
    for uc in UseCase::ALL {
        let title = use_case_title(uc);
        match r.summary.winners.get(&uc) {
            Some(w) => {
                let q = &w.quality;
                let latency =
                    w.e2e_p95_ms.map(|v| format!(" · p95 {}", fmt_ms(v))).unwrap_or_default();
                let note = match &w.runner_up {
                    None => "the only model measured".to_owned(),
                    Some((m, rq)) if w.is_clear() => {
                        format!("clear lead over {} ({:.2})", escape(m), rq.mean)
                    }
                    Some((m, rq)) => format!(
                        "not separable from {} ({:.2}): the 95% intervals overlap",
                        escape(m),
                        rq.mean
                    ),
                };
                let badge = if q.mean <= 0.0 {
                    "every model scored 0"
                } else if w.is_clear() && w.runner_up.is_some() {
                    "★ winner"
                } else {
                    "★ best measured"
                };
                out.push_str(&format!(
                    "<div class=\"card win\" data-use-case=\"{uc}\"><div class=\"uc\">{title}</div>\
                     <div class=\"model\">{} <span class=\"badge best\">{badge}</span></div>{}\
                     <div class=\"facts\">quality {} · n {}{latency}</div><div class=\"note\">{note}</div></div>\n",
                    escape(&w.model),
                    meter(q.mean, q.low, q.high),
                    fmt_quality(q),
                    q.n,
                ));
            }
            None => {
                let why = not_measured_reason(r, uc);
                out.push_str(&format!(
                    "<div class=\"card none\" data-use-case=\"{uc}\"><div class=\"uc\">{title}</div>\
                     <div class=\"model\">not measured</div><div class=\"note\">{why}</div></div>\n"
                ));
            }
        }
    }
    out.push_str("</div>\n</section>\n");
    out
}

/// The latest decision per use case, as a table: status, leader, and the leader's
/// paired difference to each rival with its anytime-valid interval.
fn decisions(r: &Report) -> String {
    let mut latest: Vec<&Decision> = Vec::new();
    for uc in UseCase::ALL {
        let of_uc = r.inputs.registry.decisions.iter().filter(|d| d.use_case == uc);
        if let Some(d) = of_uc.max_by(|a, b| a.timestamp.cmp(&b.timestamp)) {
            latest.push(d);
        }
    }
    if latest.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<div id=\"decision\"><p class=\"lede\">The decision, from paired comparisons: every model \
         answered the same items, and each difference (leader − rival, per item) has an \
         anytime-valid 95% interval, so it stays honest however often the bench looked before it \
         stopped. <b>Settled</b>: the leader is ahead of every rival (or tied with some and ahead of \
         the rest); <b>tied</b>: every rival is within the tie margin; <b>open</b>: not decided yet, \
         with the further items an estimate says it needs.</p>\n<div class=\"scroll\"><table \
         id=\"decision-table\"><thead><tr><th>use case</th><th>status</th><th>leader</th>\
         <th class=\"num\">items</th><th>leader − rival (95%)</th></tr></thead><tbody>\n",
    );
    for d in latest {
        let pairs: Vec<String> = d
            .pairs
            .iter()
            .map(|p| {
                let st = match p.status {
                    PairStatus::Ahead => "ahead",
                    PairStatus::Tied => "tied",
                    PairStatus::Open => "open",
                };
                format!(
                    "{} {:+.3} [{:+.3}, {:+.3}] <span class=\"cell-sub\">{st}, n {}</span>",
                    escape(&p.rival),
                    p.mean,
                    p.ci_low,
                    p.ci_high,
                    p.n
                )
            })
            .collect();
        let status = match (d.status, d.further_items) {
            (DecisionStatus::Open, Some(n)) => {
                format!("open <span class=\"cell-sub\">~{n} more items</span>")
            }
            (s, _) => s.as_str().to_owned(),
        };
        let cls = if d.status == DecisionStatus::Open { "" } else { " class=\"best\"" };
        out.push_str(&format!(
            "<tr data-use-case=\"{}\"><td>{}</td><td{cls}>{status}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
            d.use_case,
            use_case_title(d.use_case),
            escape(&d.leader),
            d.items,
            pairs.join("<br>")
        ));
    }
    out.push_str("</tbody></table></div></div>\n");
    out
}

fn not_measured_reason(r: &Report, uc: UseCase) -> String {
    if uc == UseCase::Vision && !r.inputs.registry.models.iter().any(|m| m.declared.vision) {
        return "needs a vision model, and none is installed (the catalog has Qwen2.5 VL 3B: <code>noa models pull</code>)".to_owned();
    }
    if r.summary.models.is_empty() {
        return "no models installed or measured: run <code>noa models pull</code>, then <code>noa bench</code>".to_owned();
    }
    format!(
        "no suite of this use case (<code>{uc}</code>) has been run with <code>noa bench</code>"
    )
}

/// A 0–1 meter: the interval as a grey band, the mean as a black tick.
fn meter(mean: f64, low: f64, high: f64) -> String {
    let pct = |v: f64| (v.clamp(0.0, 1.0) * 100.0 * 10.0).round() / 10.0;
    format!(
        "<div class=\"meter\" aria-hidden=\"true\"><span class=\"ci\" style=\"left:{}%;width:{}%\"></span>\
         <span class=\"val\" style=\"left:calc({}% - 1px)\"></span></div>",
        pct(low),
        (pct(high) - pct(low)).max(0.5),
        pct(mean)
    )
}

/// Failed models and input problems, in plain sight.
pub fn alerts(r: &Report) -> String {
    let mut out = String::new();
    if r.summary.failures.is_empty() && r.summary.models.is_empty() {
        out.push_str(
            "<div class=\"alert info\" id=\"nothing-measured\"><h3>Nothing has been measured yet</h3>\
             <p>No models are registered and no bench runs were found. Install models with \
             <code>noa models pull</code>, run <code>noa bench</code>, then <code>noa report</code> again.</p></div>\n",
        );
    } else if r.summary.measured_models() == 0 {
        out.push_str(
            "<div class=\"alert info\" id=\"nothing-measured\"><h3>No quality has been measured yet</h3>\
             <p>Run <code>noa bench</code> to measure the installed models on this machine.</p></div>\n",
        );
    }
    for run in &r.inputs.runs {
        if run.manifest.as_ref().is_some_and(|m| m.finished_at.is_none()) {
            out.push_str(&format!(
                "<div class=\"alert info\" id=\"unfinished-run\"><h3>Run <code>{}</code> has not finished</h3>\
                 <p>It is still running or was interrupted: the figures cover the {} items recorded so far. \
                 <code>noa bench --resume</code> completes it.</p></div>\n",
                escape(&run.id),
                run.items.len()
            ));
        }
    }
    if !r.summary.failures.is_empty() {
        out.push_str("<div class=\"alert\" id=\"failed-models\"><h3>Models that failed</h3><ul>\n");
        for (m, why) in &r.summary.failures {
            out.push_str(&format!(
                "<li><strong>{}</strong> <span class=\"badge fail\">failed</span> — {}</li>\n",
                escape(m),
                escape(why)
            ));
        }
        out.push_str("</ul></div>\n");
    }
    if !r.warnings.is_empty() {
        out.push_str(
            "<div class=\"alert info\" id=\"warnings\"><h3>Notes on the input files</h3><ul>\n",
        );
        for w in &r.warnings {
            out.push_str(&format!("<li>{}</li>\n", escape(w)));
        }
        out.push_str("</ul></div>\n");
    }
    out
}

pub fn contents() -> String {
    let links = [
        ("summary", "Summary"),
        ("tradeoff", "Quality vs latency"),
        ("suites", "Per suite"),
        ("latency", "Latency"),
        ("throughput", "Tokens/s"),
        ("routing", "Routing"),
        ("declared", "Declared priors"),
        ("provenance", "Provenance"),
        ("files", "CSV files"),
    ];
    let a: Vec<String> = links.iter().map(|(id, t)| format!("<a href=\"#{id}\">{t}</a>")).collect();
    format!("<nav class=\"toc\">{}</nav>\n", a.join(""))
}

/// Model × use case: measured quality (95% interval), p95 latency, tokens/s.
pub fn summary_table(r: &Report) -> String {
    let mut out = String::from(
        "<section id=\"summary\">\n<h2>Summary: measured on this machine</h2>\n\
         <p class=\"lede\">Each cell: mean quality, its 95% interval and number of items, then p95 end-to-end latency and \
         generation tokens/s. \
         ★ marks the best model of each use case. Figures are the registry's measurements (what the router uses); \
         † marks a figure computed from run items because the registry has none. A use case with several suites pools \
         them by item count; <em>general</em> pools instruction following and Q&amp;A.</p>\n",
    );
    if r.summary.models.is_empty() {
        out.push_str(
            "<p class=\"empty\">No models yet: every use case is not measured.</p>\n</section>\n",
        );
        return out;
    }
    out.push_str("<div class=\"scroll\"><table id=\"summary-table\">\n<thead><tr><th>model</th>");
    for uc in UseCase::ALL {
        out.push_str(&format!("<th>{}</th>", use_case_title(uc)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for model in &r.summary.models {
        out.push_str(&format!("<tr><th scope=\"row\">{}</th>", escape(model)));
        let measured = UseCase::ALL
            .iter()
            .any(|u| r.summary.cell(model, *u).is_some_and(|c| c.quality.is_some()));
        let whole_failure =
            r.summary.failures.iter().find(|(m, _)| m == model).filter(|_| !measured);
        if let Some((_, why)) = whole_failure {
            out.push_str(&format!(
                "<td class=\"failed\" colspan=\"{}\"><span class=\"badge fail\">failed</span> {}</td></tr>\n",
                UseCase::ALL.len(),
                escape(why)
            ));
            continue;
        }
        for uc in UseCase::ALL {
            match r.summary.cell(model, uc) {
                Some(c) if c.quality.is_some() => out.push_str(&measured_cell(c)),
                Some(c) if c.failure.is_some() => out.push_str(&format!(
                    "<td class=\"failed\"><span class=\"badge fail\">failed</span><span class=\"cell-sub\">{}</span></td>",
                    escape(c.failure.as_deref().unwrap_or_default())
                )),
                _ => out.push_str("<td class=\"na\">not measured</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n</section>\n");
    out
}

/// One measured cell: the score big, its interval and size, then speed.
fn measured_cell(c: &crate::summary::Cell) -> String {
    let Some(q) = c.quality else { return String::new() };
    let star = if c.best { "★ " } else { "" };
    let dagger = if c.sources.contains("run items") { "†" } else { "" };
    let partial = if c.partial { " <span class=\"cell-sub\">(partial)</span>" } else { "" };
    let mut speed = Vec::new();
    if let Some(p) = c.e2e_p95_ms {
        speed.push(format!("p95 {}", fmt_ms(p)));
    }
    if let Some(t) = c.gen_tps {
        speed.push(format!("{} tok/s", fmt_num(t)));
    }
    let class = if c.best { " class=\"best\"" } else { "" };
    format!(
        "<td{class}><span class=\"cell-main\">{star}{:.2}{dagger}</span>{partial}\
         <span class=\"cell-sub\">{:.2}–{:.2} · n {}</span><span class=\"cell-sub\">{}</span></td>",
        q.mean,
        q.low,
        q.high,
        q.n,
        speed.join(" · ")
    )
}

/// What the catalog claims, kept apart from anything measured.
pub fn declared(r: &Report) -> String {
    let mut out = String::from(
        "<section id=\"declared\">\n<h2>Declared priors <span class=\"badge declared\">declared, not measured</span></h2>\n\
         <p class=\"lede\">What the catalog claims about each model. The router uses the prior quality only as a weak \
         starting point; nothing here is a measurement.</p>\n",
    );
    if r.inputs.registry.models.is_empty() {
        out.push_str("<p class=\"empty\">No models in the registry.</p>\n</section>\n");
        return out;
    }
    out.push_str(
        "<div class=\"scroll\"><table id=\"declared-table\"><thead><tr><th>model</th><th>family</th><th>quantisation</th>\
         <th class=\"num\">parameters</th><th>declared use cases</th><th>privacy</th><th>priority</th>\
         <th class=\"num\">prior quality (declared)</th><th>vision</th></tr></thead>\n<tbody>\n",
    );
    for m in &r.inputs.registry.models {
        let d = &m.declared;
        let ucs: Vec<&str> = d.use_cases.iter().map(|u| u.as_str()).collect();
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>\n",
            escape(&m.id),
            escape(&m.family),
            escape(m.quantization.as_deref().unwrap_or("—")),
            m.parameters.map(|p| format!("{:.2} B", p as f64 / 1e9)).unwrap_or_else(|| "—".into()),
            escape(&ucs.join(", ")),
            format!("{:?}", d.privacy).to_lowercase(),
            d.priority.map(|p| format!("{p:?}").to_lowercase()).unwrap_or_else(|| "—".into()),
            d.quality.map(|q| format!("{q:.2}")).unwrap_or_else(|| "—".into()),
            if d.vision { "yes" } else { "no" },
        ));
    }
    out.push_str("</tbody></table></div>\n</section>\n");
    out
}
