//! The report on a realistic `NOA_HOME` (three measured models, one failed model, two
//! runs, replay results, a feedback log): the page is valid HTML5 with every chart
//! drawn, fetches nothing, names the winners, traces every number, and its CSV files
//! hold the right figures. Also: an empty home, a run whose only model failed, run
//! selection and bad inputs.

mod fixture;

use std::collections::BTreeMap;

use noa_registry::NoaHome;
use noa_reports::{ReportError, ReportOptions, RunSelection, build};
use scraper::{ElementRef, Html, Selector};

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect::<Vec<_>>().join("")
}

/// Parse and insist on zero HTML5 parse errors.
fn parse(html: &str) -> Html {
    let doc = Html::parse_document(html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    doc
}

/// No element that fetches anything, no URL in any fetching attribute, and every
/// `http` in the file is inside text (a message quoting a URL), never markup.
fn assert_self_contained(html: &str, doc: &Html) {
    for tag in [
        "script", "link", "img", "iframe", "object", "embed", "video", "audio", "source", "image",
        "use",
    ] {
        assert_eq!(doc.select(&sel(tag)).count(), 0, "the page has a <{tag}> element");
    }
    for el in doc.select(&sel("*")) {
        for (name, value) in el.value().attrs() {
            let v = value.trim().to_ascii_lowercase();
            assert!(
                !(v.starts_with("http:")
                    || v.starts_with("https:")
                    || v.starts_with("//")
                    || v.contains("url(")),
                "attribute {name}=\"{value}\" on <{}> points outside the file",
                el.value().name()
            );
        }
    }
    let style: String = doc.select(&sel("style")).map(text).collect();
    assert!(
        !style.contains("url(") && !style.contains("@import"),
        "the stylesheet loads something"
    );
    let in_text: usize = doc.root_element().text().map(|t| t.matches("http").count()).sum();
    assert_eq!(html.matches("http").count(), in_text, "`http` appears in markup, not only in text");
}

/// The `<svg>` inside `<figure id=...>`, with at least `marks` drawn shapes.
fn assert_chart(doc: &Html, id: &str, marks: usize, labels: &[&str]) {
    let fig = doc
        .select(&sel(&format!("figure[id=\"{id}\"]")))
        .next()
        .unwrap_or_else(|| panic!("chart `{id}` is missing"));
    let svg = fig.select(&sel("svg")).next().unwrap_or_else(|| panic!("chart `{id}` has no <svg>"));
    // Data marks are drawn in the series colours; axes, grid and background never are.
    const PALETTE: [&str; 8] =
        ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#6E6E6E", "#A08C00"];
    let shapes = svg
        .select(&sel("circle, rect, polygon, polyline, path, line"))
        .filter(|e| {
            ["fill", "stroke"].iter().any(|a| {
                e.value().attr(a).is_some_and(|c| PALETTE.iter().any(|p| p.eq_ignore_ascii_case(c)))
            })
        })
        .count();
    assert!(shapes >= marks, "chart `{id}` has {shapes} data marks, expected at least {marks}");
    let t = text(svg);
    for l in labels {
        assert!(t.contains(l), "chart `{id}` does not name `{l}`; its text: {t}");
    }
}

fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(str::to_owned).collect();
    let rows = lines
        .map(|l| header.iter().cloned().zip(l.split(',').map(str::to_owned)).collect())
        .collect();
    (header, rows)
}

fn realistic() -> (tempfile::TempDir, NoaHome) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = fixture::realistic(dir.path());
    (dir, home)
}

#[test]
fn realistic_home_gives_a_complete_self_contained_report() {
    let (_dir, home) = realistic();
    let out = build(&home, &ReportOptions::default()).expect("report");
    assert_eq!(out.html_path, home.reports_dir().join("index.html"));
    assert_eq!(out.runs, vec![fixture::RUN.to_owned()], "the latest run is the default");
    let html = std::fs::read_to_string(&out.html_path).expect("html");
    let doc = parse(&html);
    assert_self_contained(&html, &doc);

    let models = [fixture::SMOL, fixture::GEMMA, fixture::CODER];
    for uc in [
        "code_generation",
        "reasoning",
        "qa",
        "function_calling",
        "instruction_following",
        "agent",
        "general",
    ] {
        assert_chart(&doc, &format!("chart-tradeoff-{uc}"), 3 * 3, &models);
    }
    assert!(
        doc.select(&sel("figure[id=\"chart-tradeoff-vision\"]")).next().is_none(),
        "vision was not measured"
    );
    for suite in [
        "humaneval-1-0-0",
        "gsm8k-1-1-0",
        "arc-easy-1-0-0",
        "bfcl-simple-2-0-0",
        "ifeval-1-0-0",
        "agent-tools-0-3-0",
    ] {
        assert_chart(&doc, &format!("chart-suite-{suite}"), 3, &models);
    }
    for id in ["ttft", "inter-token", "e2e"] {
        assert_chart(&doc, &format!("chart-latency-{id}"), 3 * 3, &models);
    }
    for id in ["prompt", "generation"] {
        assert_chart(&doc, &format!("chart-tps-{id}"), 3, &models);
    }
    let policies = ["thompson", "linucb", "greedy", "round_robin", "random"];
    assert_chart(&doc, "chart-replay-regret", 5 * 5, &policies);
    assert_chart(&doc, "chart-replay-quality", 5, &policies);
    assert_chart(&doc, "chart-replay-latency", 5, &policies);

    // The verdict at the top names a winner per measured use case.
    let card = |uc: &str| {
        doc.select(&sel(&format!(".card[data-use-case=\"{uc}\"]")))
            .next()
            .map(text)
            .unwrap_or_default()
    };
    assert!(card("code_generation").contains(fixture::CODER), "{}", card("code_generation"));
    assert!(card("function_calling").contains(fixture::CODER), "{}", card("function_calling"));
    assert!(card("reasoning").contains(fixture::GEMMA), "{}", card("reasoning"));
    assert!(card("vision").contains("not measured"), "{}", card("vision"));
    let first_section = doc.select(&sel("main section")).next().expect("a section");
    assert_eq!(first_section.value().attr("id"), Some("verdict"), "the verdict comes first");
    // ... and leads with the bench's decision per use case.
    let decision = first_section.select(&sel("#decision-table")).next().expect("decision table");
    let row = |uc: &str| {
        decision
            .select(&sel(&format!("tr[data-use-case=\"{uc}\"]")))
            .next()
            .map(text)
            .unwrap_or_default()
    };
    assert!(row("qa").contains("settled") && row("qa").contains(fixture::GEMMA), "{}", row("qa"));
    assert!(row("qa").contains("+0.300 [+0.050, +0.550]"), "{}", row("qa"));
    assert!(row("reasoning").contains("open") && row("reasoning").contains("~140 more items"));
    let first_block = first_section.select(&sel("div")).next().expect("a block");
    assert_eq!(first_block.value().attr("id"), Some("decision"), "the decision comes first");

    // Summary table: one ★ per measured use case, vision not measured, failed row.
    let table = doc.select(&sel("#summary-table")).next().expect("summary table");
    assert_eq!(table.select(&sel("td.best")).count(), 7);
    let failed_row = table
        .select(&sel("tbody tr"))
        .find(|r| text(*r).starts_with(fixture::FAILED))
        .expect("failed model row");
    assert!(text(failed_row).contains("failed"));
    assert!(text(failed_row).contains(fixture::FAILED_REASON));
    let alert = doc.select(&sel("#failed-models")).next().map(text).unwrap_or_default();
    assert!(alert.contains(fixture::FAILED) && alert.contains(fixture::FAILED_REASON), "{alert}");
    assert_eq!(
        out.failed_models,
        vec![(fixture::FAILED.to_owned(), fixture::FAILED_REASON.to_owned())]
    );

    // Declared priors apart and labelled.
    let declared = doc.select(&sel("#declared")).next().map(text).unwrap_or_default();
    assert!(declared.contains("declared, not measured") && declared.contains("0.60"), "{declared}");

    // Provenance: hashes, suite versions, engine build, hardware.
    let prov = doc.select(&sel("#provenance")).next().map(text).unwrap_or_default();
    for m in models.iter().chain([&fixture::FAILED]) {
        assert!(prov.contains(&fixture::sha(m)), "sha256 of {m} missing");
    }
    for needle in ["1.1.0", "2.0.0", fixture::ENGINE, fixture::CPU, "hw-3f9a1c"] {
        assert!(prov.contains(needle), "provenance lacks {needle}");
    }

    // Replay and live router totals.
    let routing = doc.select(&sel("#routing")).next().map(text).unwrap_or_default();
    assert!(routing.contains("thompson") && !routing.contains("No replay results"));
    let fb: Vec<String> = doc.select(&sel("#feedback-table tbody tr")).map(text).collect();
    let coder_row = fb.iter().find(|r| r.starts_with(fixture::CODER)).expect("coder row");
    // d0,d1,d4,d5,d8,d9 went to the coder; rewards exist for d0..d8 → 5 of them (only
    // d0 scored 0); latencies 800, 810, 840, 850, 880 with the rewards and 700 measured for d9.
    assert!(coder_row.starts_with(&format!("{}650.800813 ms", fixture::CODER)), "{coder_row}");
    assert!(routing.contains("1 unreadable"), "{routing}");
    assert!(routing.contains("12 decisions"), "{routing}");
}

#[test]
fn csv_files_hold_the_summary_and_the_item_aggregates() {
    let (_dir, home) = realistic();
    let out = build(&home, &ReportOptions::default()).expect("report");
    let dir = home.reports_dir();
    let names: Vec<String> = out
        .csv_paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "summary.csv",
            "measurements.csv",
            "items_by_suite.csv",
            "latency.csv",
            "replay.csv",
            "feedback.csv"
        ]
    );

    let (header, rows) = read_csv(&dir.join("summary.csv"));
    assert_eq!(
        header.join(","),
        "model,use_case,status,quality_mean,ci_low,ci_high,n,e2e_p95_ms,gen_tps,prompt_tps,best,partial,suites,source,failure"
    );
    assert_eq!(rows.len(), 4 * 8, "every model × use case");
    let reg: noa_registry::Registry =
        serde_json::from_str(&std::fs::read_to_string(home.registry_path()).unwrap()).unwrap();
    let coder_code = reg
        .get(fixture::CODER)
        .unwrap()
        .measured
        .iter()
        .find(|m| m.key.suite == "humaneval@1.0.0")
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r["model"] == fixture::CODER && r["use_case"] == "code_generation")
        .unwrap();
    let q = coder_code.quality.as_ref().unwrap();
    assert!(
        (row["quality_mean"].parse::<f64>().unwrap() - q.mean).abs() < 1e-9,
        "summary uses the registry"
    );
    assert_eq!(row["n"], "20");
    assert_eq!(row["best"], "true");
    assert_eq!(row["source"], "registry");
    let vision =
        rows.iter().find(|r| r["model"] == fixture::SMOL && r["use_case"] == "vision").unwrap();
    assert_eq!(vision["status"], "not measured");
    let failed = rows
        .iter()
        .find(|r| r["model"] == fixture::FAILED && r["use_case"] == "code_generation")
        .unwrap();
    assert_eq!(failed["status"], "failed");

    let (header, rows) = read_csv(&dir.join("items_by_suite.csv"));
    assert_eq!(
        header.join(","),
        "model,suite,use_case,n,mean,ci_low,ci_high,interval,errors,e2e_p95_ms,prompt_tps,gen_tps"
    );
    assert_eq!(rows.len(), 3 * 6);
    let agent = rows
        .iter()
        .find(|r| r["model"] == fixture::GEMMA && r["suite"] == "agent-tools@0.3.0")
        .unwrap();
    assert_eq!(
        (agent["n"].as_str(), agent["errors"].as_str(), agent["interval"].as_str()),
        ("20", "1", "normal")
    );
    let he = rows
        .iter()
        .find(|r| r["model"] == fixture::SMOL && r["suite"] == "humaneval@1.0.0")
        .unwrap();
    assert_eq!(he["interval"], "wilson");
    // Same items, same mean as the registry's measurement.
    let items = fixture::items(fixture::RUN, fixture::SMOL, 1);
    let he_items: Vec<f64> =
        items.iter().filter(|i| i.suite == "humaneval").map(|i| i.score).collect();
    let mean = he_items.iter().sum::<f64>() / he_items.len() as f64;
    assert!((he["mean"].parse::<f64>().unwrap() - mean).abs() < 1e-9);

    let (header, rows) = read_csv(&dir.join("latency.csv"));
    assert_eq!(
        header.join(","),
        "model,items,ttft_p50_ms,ttft_p95_ms,ttft_p99_ms,inter_token_p50_ms,inter_token_p95_ms,inter_token_p99_ms,\
         e2e_p50_ms,e2e_p95_ms,e2e_p99_ms,prompt_tps,gen_tps,mean_prompt_tokens,mean_gen_tokens"
    );
    let smol = rows.iter().find(|r| r["model"] == fixture::SMOL).unwrap();
    let timed: Vec<f64> =
        items.iter().filter(|i| i.error.is_none()).map(|i| i.timings.e2e_ms).collect();
    assert_eq!(smol["items"], timed.len().to_string(), "errored items carry no timings");
    let p95 = fixture::quantile(&timed, 0.95);
    assert!(
        (smol["e2e_p95_ms"].parse::<f64>().unwrap() - p95).abs() < 1e-6,
        "{} vs {p95}",
        smol["e2e_p95_ms"]
    );
    let gaps: Vec<f64> = items
        .iter()
        .filter(|i| i.error.is_none())
        .flat_map(|i| i.timings.inter_token_gaps_ms.clone())
        .collect();
    let g99 = fixture::quantile(&gaps, 0.99);
    assert!((smol["inter_token_p99_ms"].parse::<f64>().unwrap() - g99).abs() < 1e-6);

    let (header, rows) = read_csv(&dir.join("replay.csv"));
    assert_eq!(
        header.join(","),
        "policy,mean_quality,mean_latency_ms,regret_vs_oracle,regret_vs_best_fixed"
    );
    assert_eq!(rows.len(), 5);
    let (header, rows) = read_csv(&dir.join("feedback.csv"));
    assert_eq!(header.join(","), "model,decisions,feedback,mean_reward,mean_latency_ms");
    let coder = rows.iter().find(|r| r["model"] == fixture::CODER).unwrap();
    assert_eq!((coder["decisions"].as_str(), coder["feedback"].as_str()), ("6", "5"));
    let (header, _) = read_csv(&dir.join("measurements.csv"));
    assert!(header.iter().any(|h| h == "engine_build") && header.iter().any(|h| h == "run_id"));
}

#[test]
fn empty_home_says_nothing_was_measured() {
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let out = build(&home, &ReportOptions::default()).expect("report of nothing");
    let html = std::fs::read_to_string(&out.html_path).unwrap();
    let doc = parse(&html);
    assert_self_contained(&html, &doc);
    let t = text(doc.root_element());
    assert!(t.contains("Nothing has been measured yet"), "{t}");
    assert!(t.contains("noa replay"), "says how to produce replay results");
    assert_eq!(doc.select(&sel(".card.none")).count(), 8, "every use case not measured");
    assert_eq!(doc.select(&sel("figure svg")).count(), 0);
    let (header, rows) = read_csv(&dir.path().join("reports/summary.csv"));
    assert_eq!(header[0], "model");
    assert!(rows.is_empty());
    assert_eq!(out.csv_paths.len(), 4, "no replay or feedback CSV without their inputs");
}

#[test]
fn run_whose_only_model_failed_reports_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let home = fixture::failed_only(dir.path());
    let out = build(&home, &ReportOptions::default()).expect("report");
    let html = std::fs::read_to_string(&out.html_path).unwrap();
    let doc = parse(&html);
    let alert = doc.select(&sel("#failed-models")).next().map(text).unwrap_or_default();
    assert!(alert.contains(fixture::FAILED) && alert.contains(fixture::FAILED_REASON), "{alert}");
    let t = text(doc.root_element());
    assert!(t.contains("No quality has been measured yet"), "{t}");
    let row = doc.select(&sel("#summary-table tbody tr")).next().map(text).unwrap_or_default();
    assert!(row.contains("failed"), "{row}");
}

#[test]
fn run_selection_picks_the_evidence() {
    let (_dir, home) = realistic();
    let out = build(
        &home,
        &ReportOptions { runs: RunSelection::Run(fixture::OLD_RUN.into()), out: None },
    )
    .unwrap();
    assert_eq!(out.runs, [fixture::OLD_RUN]);
    // Only that run's measurements count: the registry has none from it, so its items stand in.
    let (_, rows) = read_csv(&home.reports_dir().join("summary.csv"));
    let qa = rows.iter().find(|r| r["model"] == fixture::SMOL && r["use_case"] == "qa").unwrap();
    assert_eq!(qa["source"], "run items");
    assert_eq!(qa["n"], "20");
    let out = build(&home, &ReportOptions { runs: RunSelection::All, out: None }).unwrap();
    assert_eq!(out.runs, [fixture::OLD_RUN, fixture::RUN]);

    let err = build(&home, &ReportOptions { runs: RunSelection::Run("nope".into()), out: None })
        .unwrap_err();
    assert!(matches!(err, ReportError::RunNotFound { .. }), "{err}");
    assert!(err.to_string().contains("`nope`") && err.to_string().contains(fixture::RUN), "{err}");
}

#[test]
fn custom_out_path_puts_the_csv_files_beside_it() {
    let (dir, home) = realistic();
    let target = dir.path().join("elsewhere/my-report.html");
    let out =
        build(&home, &ReportOptions { runs: RunSelection::Latest, out: Some(target.clone()) })
            .unwrap();
    assert_eq!(out.html_path, target);
    assert!(dir.path().join("elsewhere/summary.csv").is_file());
}

#[test]
fn broken_registry_is_an_error_and_left_untouched() {
    let (_dir, home) = realistic();
    let broken = "{\n  \"schema\": 1,\n  \"models\": [ {\"id\": \n";
    std::fs::write(home.registry_path(), broken).unwrap();
    let err = build(&home, &ReportOptions::default()).unwrap_err();
    assert!(matches!(err, ReportError::Registry { line: 4, .. }), "{err}");
    assert!(err.is_user_error());
    assert_eq!(std::fs::read_to_string(home.registry_path()).unwrap(), broken);
}

#[test]
fn damaged_item_lines_are_skipped_with_a_note() {
    let (_dir, home) = realistic();
    let items = home.runs_dir().join(fixture::RUN).join("items.jsonl");
    let mut text = std::fs::read_to_string(&items).unwrap();
    text.push_str("{\"run_id\": \"truncated by a crash\n");
    std::fs::write(&items, text).unwrap();
    let out = build(&home, &ReportOptions::default()).unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("1 line(s) could not be read")),
        "{:?}",
        out.warnings
    );
    let html = std::fs::read_to_string(&out.html_path).unwrap();
    assert!(html.contains("1 line(s) could not be read"));
    let (_, rows) = read_csv(&home.reports_dir().join("items_by_suite.csv"));
    assert_eq!(rows.len(), 18, "the good lines still count");
}

#[test]
fn unfinished_run_is_flagged() {
    let (_dir, home) = realistic();
    let path = home.runs_dir().join(fixture::RUN).join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    m["finished_at"] = serde_json::Value::Null;
    std::fs::write(&path, m.to_string()).unwrap();
    let out = build(&home, &ReportOptions::default()).unwrap();
    let doc = parse(&std::fs::read_to_string(&out.html_path).unwrap());
    let alert = doc.select(&sel("#unfinished-run")).next().map(text).unwrap_or_default();
    assert!(alert.contains(fixture::RUN) && alert.contains("noa bench --resume"), "{alert}");
}
