//! The page templates, compiled into the binary so the report needs no files at run
//! time, and the one minijinja environment that renders them: auto-escaping on for
//! every template, strict about undefined values so a misspelt field is an error
//! rather than a silently empty cell.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use crate::error::{ReportError, Result};

/// Every template by name, with its source.
const TEMPLATES: &[(&str, &str)] = &[
    ("page.html", include_str!("../../templates/page.html")),
    ("report.css", include_str!("../../templates/report.css")),
    ("figure.html", include_str!("../../templates/figure.html")),
    ("header.html", include_str!("../../templates/header.html")),
    ("verdict.html", include_str!("../../templates/verdict.html")),
    ("alerts.html", include_str!("../../templates/alerts.html")),
    ("summary.html", include_str!("../../templates/summary.html")),
    ("evidence.html", include_str!("../../templates/evidence.html")),
    ("routing.html", include_str!("../../templates/routing.html")),
    ("declared.html", include_str!("../../templates/declared.html")),
    ("provenance.html", include_str!("../../templates/provenance.html")),
    ("files.html", include_str!("../../templates/files.html")),
];

/// The environment with every template added. Block tags on lines of their own leave
/// no blank lines behind (`trim_blocks`, `lstrip_blocks`), and each file's last
/// newline is kept, so sections join line by line.
pub fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    // HTML escaping everywhere, the stylesheet included: it has no `{{ }}`, so nothing
    // in it is escaped, and no template can forget to escape.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    for (name, source) in TEMPLATES {
        env.add_template(name, source).map_err(render_error)?;
    }
    Ok(env)
}

/// Render template `name` with `ctx`.
pub fn render<S: serde::Serialize>(name: &str, ctx: S) -> Result<String> {
    let env = environment()?;
    env.get_template(name).and_then(|t| t.render(ctx)).map_err(render_error)
}

/// A template fault is a bug in noa, reported with minijinja's description of where.
fn render_error(e: minijinja::Error) -> ReportError {
    ReportError::Render { message: format!("{e:#}") }
}

#[cfg(test)]
mod tests {
    use minijinja::{Value, context};

    #[test]
    fn every_template_compiles() {
        let env = super::environment().expect("templates compile");
        assert_eq!(env.templates().count(), super::TEMPLATES.len());
    }

    #[test]
    fn text_is_escaped_and_charts_are_not() {
        let env = super::environment().expect("templates compile");
        let tmpl = env.template_from_str("{% from \"figure.html\" import figure %}{{ figure(f) }}");
        let f = context! {
            id => "chart-x",
            svg => Value::from_safe_string("<svg><text>a &amp; b</text></svg>".into()),
            caption => "<b>bold</b> & \"quoted\" 'text'",
        };
        let html = tmpl.and_then(|t| t.render(context! { f })).expect("renders");
        assert_eq!(
            html,
            "<figure id=\"chart-x\" class=\"chart\"><svg><text>a &amp; b</text></svg><figcaption>\
             &lt;b&gt;bold&lt;&#x2f;b&gt; &amp; &quot;quoted&quot; &#x27;text&#x27;</figcaption></figure>\n"
        );
    }
}
