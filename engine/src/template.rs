//! Chat templates. The GGUF's own `tokenizer.chat_template` is rendered with minijinja
//! the way Hugging Face renders it (trim/lstrip blocks, Python string methods,
//! `raise_exception`, `strftime_now`, `bos_token`/`eos_token`, `add_generation_prompt`).
//! llama.cpp's built-in renderer guesses the format from the template text and gets a
//! share of real templates wrong, so it is only the fallback when Jinja fails; models
//! without any template get a plain `role: content` transcript.

use std::sync::Arc;

use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use minijinja::{Environment, ErrorKind, Value};

use crate::{ChatMessage, EngineError};

/// Which renderer a model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// The GGUF's Jinja template, rendered by minijinja.
    Jinja,
    /// llama.cpp's built-in `llama_chat_apply_template`.
    LlamaCpp,
    /// No usable template: `role: content` lines, then `assistant:`.
    Plain,
}

/// Renders chat messages for one model. Lives in the `Model` handle (thread-safe).
pub(crate) struct ChatRenderer {
    kind: TemplateKind,
    env: Option<Environment<'static>>,
    model: Arc<LlamaModel>,
    source: Option<String>,
    bos: String,
    eos: String,
}

impl std::fmt::Debug for ChatRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatRenderer").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A short conversation every chosen renderer must handle.
fn probe() -> Vec<ChatMessage> {
    vec![
        ChatMessage::new("system", "You are helpful."),
        ChatMessage::new("user", "Hi"),
        ChatMessage::new("assistant", "Hello."),
        ChatMessage::new("user", "2+2?"),
    ]
}

impl ChatRenderer {
    pub(crate) fn new(
        model: Arc<LlamaModel>,
        source: Option<String>,
        bos: String,
        eos: String,
    ) -> Self {
        let mut r = ChatRenderer { kind: TemplateKind::Plain, env: None, model, source, bos, eos };
        if let Some(src) = r.source.clone() {
            match jinja_env(&src) {
                Ok(env) => {
                    r.env = Some(env);
                    r.kind = TemplateKind::Jinja;
                    if let Err(e) = r.render(&probe()) {
                        tracing::warn!(
                            "chat template does not render with Jinja ({e}); trying llama.cpp's"
                        );
                        r.env = None;
                        r.kind = TemplateKind::LlamaCpp;
                    }
                }
                Err(e) => {
                    tracing::warn!("chat template does not compile ({e}); trying llama.cpp's");
                    r.kind = TemplateKind::LlamaCpp;
                }
            }
            if r.kind == TemplateKind::LlamaCpp && r.render(&probe()).is_err() {
                r.kind = TemplateKind::Plain;
            }
        }
        r
    }

    pub(crate) fn kind(&self) -> TemplateKind {
        self.kind
    }

    pub(crate) fn bos(&self) -> &str {
        &self.bos
    }

    /// Render with the chosen renderer, generation prompt appended.
    pub(crate) fn render(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        match self.kind {
            TemplateKind::Jinja => self.render_jinja(messages),
            TemplateKind::LlamaCpp => self.render_llama_cpp(messages),
            TemplateKind::Plain => Ok(render_plain(messages)),
        }
    }

    pub(crate) fn render_jinja(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        let env =
            self.env.as_ref().ok_or_else(|| EngineError::Template("no Jinja template".into()))?;
        let tmpl = env.get_template("chat").map_err(|e| EngineError::Template(e.to_string()))?;
        let ctx = minijinja::context! {
            messages => Value::from_serialize(messages),
            add_generation_prompt => true,
            bos_token => self.bos.clone(),
            eos_token => self.eos.clone(),
        };
        tmpl.render(ctx).map_err(|e| EngineError::Template(format!("{e:#}")))
    }

    /// llama.cpp's own renderer (used as fallback and for comparison in tests).
    pub(crate) fn render_llama_cpp(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        let terr = |e: String| EngineError::Template(e);
        let tmpl = self.model.chat_template(None).map_err(|e| terr(e.to_string()))?;
        let msgs = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| terr(e.to_string()))?;
        if msgs.is_empty() {
            return Err(terr("no messages".into()));
        }
        self.model.apply_chat_template(&tmpl, &msgs, true).map_err(|e| terr(e.to_string()))
    }
}

fn render_plain(messages: &[ChatMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        out.push_str(&m.role);
        out.push_str(": ");
        out.push_str(&m.content);
        out.push('\n');
    }
    out.push_str("assistant:");
    out
}

fn jinja_env(source: &str) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function("raise_exception", |msg: String| -> Result<Value, minijinja::Error> {
        Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
    });
    env.add_function("strftime_now", |fmt: String| strftime_now(&fmt));
    env.add_template_owned("chat", source.to_owned())?;
    Ok(env)
}

/// The subset of `strftime` chat templates use (dates in system prompts).
fn strftime_now(fmt: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month = MONTHS[usize::from(u8::from(now.month())) - 1];
    let weekday = now.weekday().to_string();
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&format!("{:02}", now.day())),
            Some('m') => out.push_str(&format!("{:02}", u8::from(now.month()))),
            Some('Y') => out.push_str(&now.year().to_string()),
            Some('y') => out.push_str(&format!("{:02}", now.year() % 100)),
            Some('b') => out.push_str(&month[..3]),
            Some('B') => out.push_str(month),
            Some('a') => out.push_str(&weekday[..3]),
            Some('A') => out.push_str(&weekday),
            Some('H') => out.push_str(&format!("{:02}", now.hour())),
            Some('M') => out.push_str(&format!("{:02}", now.minute())),
            Some('S') => out.push_str(&format!("{:02}", now.second())),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jinja_env_has_python_methods_and_raise() {
        let env = jinja_env(
            "{% if messages[0].role == 'bad' %}{{ raise_exception('no') }}{% endif %}\
             {{ messages[0].content.strip().upper() }}",
        )
        .unwrap();
        let t = env.get_template("chat").unwrap();
        let ok = t.render(minijinja::context! { messages => vec![minijinja::context!{role => "user", content => " hi "}] });
        assert_eq!(ok.unwrap(), "HI");
        let err = t.render(minijinja::context! { messages => vec![minijinja::context!{role => "bad", content => ""}] });
        assert!(err.unwrap_err().to_string().contains("no"));
    }

    #[test]
    fn gemma_style_template_with_bos_and_system_folding() {
        // The shape of Gemma 3's instruct template (BOS written by the template).
        let src = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}\
            {% set first = messages[0]['content'] + '\\n\\n' %}{% set rest = messages[1:] %}\
            {% else %}{% set first = '' %}{% set rest = messages %}{% endif %}\
            {% for m in rest %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}\
            {{ raise_exception('Conversation roles must alternate') }}{% endif %}\
            {{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\\n' \
            + (first if loop.first else '') + m['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}\
            {% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";
        let env = jinja_env(src).unwrap();
        let t = env.get_template("chat").unwrap();
        let msgs = vec![ChatMessage::new("system", "Be brief."), ChatMessage::new("user", "Hi")];
        let out = t
            .render(minijinja::context! {
                messages => Value::from_serialize(&msgs), add_generation_prompt => true,
                bos_token => "<bos>", eos_token => "<eos>",
            })
            .unwrap();
        assert_eq!(
            out,
            "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
        );
        let bad = vec![ChatMessage::new("user", "a"), ChatMessage::new("user", "b")];
        let err = t
            .render(minijinja::context! { messages => Value::from_serialize(&bad), add_generation_prompt => true, bos_token => "<bos>" })
            .unwrap_err();
        assert!(err.to_string().contains("alternate"), "{err}");
    }

    #[test]
    fn strftime_subset() {
        let s = strftime_now("%d %b %Y");
        assert_eq!(s.len(), 11, "{s}");
    }

    #[test]
    fn plain_transcript() {
        let s = render_plain(&[ChatMessage::new("user", "hi")]);
        assert_eq!(s, "user: hi\nassistant:");
    }
}
