//! IFEval's verifiable-instruction checkers, one per instruction id found in
//! `input_data.jsonl` (25 ids), following `instruction_following_eval/instructions.py`
//! (Zhou et al. 2023) check by check. Where the original leans on libraries we do
//! without, the substitute is named: `langdetect` → [`ifeval_lang`](super::ifeval_lang);
//! NLTK's Punkt sentence counter → IFEval's own regex sentence splitter (also in the
//! original, `split_into_sentences`); NLTK's `word_tokenize` for all-capital words →
//! word tokens with inner hyphens and apostrophes.

use regex::{Regex, RegexBuilder};
use serde_json::Value;
use std::sync::LazyLock;

use super::ifeval_lang::detect;

/// Every instruction id this module checks.
pub const INSTRUCTIONS: &[&str] = &[
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "combination:repeat_prompt",
    "combination:two_responses",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:constrained_response",
    "detectable_format:json_format",
    "detectable_format:multiple_sections",
    "detectable_format:number_bullet_lists",
    "detectable_format:number_highlighted_sections",
    "detectable_format:title",
    "keywords:existence",
    "keywords:forbidden_words",
    "keywords:frequency",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:nth_paragraph_first_word",
    "length_constraints:number_paragraphs",
    "length_constraints:number_sentences",
    "length_constraints:number_words",
    "punctuation:no_comma",
    "startend:end_checker",
    "startend:quotation",
];

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static IFEval pattern")
}

static WORD: LazyLock<Regex> = LazyLock::new(|| re(r"\w+"));
static TOKEN: LazyLock<Regex> = LazyLock::new(|| re(r"\w+(?:[-'’]\w+)*"));
static HIGHLIGHT: LazyLock<Regex> = LazyLock::new(|| re(r"\*[^\n\*]*\*"));
static DOUBLE_HIGHLIGHT: LazyLock<Regex> = LazyLock::new(|| re(r"\*\*[^\n\*]*\*\*"));
static BULLET_STAR: LazyLock<Regex> = LazyLock::new(|| re(r"(?m)^\s*\*[^\*].*$"));
static BULLET_DASH: LazyLock<Regex> = LazyLock::new(|| re(r"(?m)^\s*-.*$"));
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| re(r"\[.*?\]"));
static TITLE: LazyLock<Regex> = LazyLock::new(|| re(r"<<[^\n]+>>"));
static PARAGRAPH_DIVIDER: LazyLock<Regex> = LazyLock::new(|| re(r"\s?\*\*\*\s?"));

/// IFEval's `count_words`: `\w+` tokens.
pub fn count_words(text: &str) -> usize {
    WORD.find_iter(text).count()
}

/// IFEval's `split_into_sentences` (its regex splitter), counted.
pub fn count_sentences(text: &str) -> usize {
    static STEPS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        let starters = r"(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s|That\s|This\s|Wherever)";
        vec![
            (re(r"(Mr|St|Mrs|Ms|Dr)[.]"), "${1}<prd>"),
            (re(r"[.](com|net|org|io|gov|edu|me)"), "<prd>${1}"),
            (re(r"([0-9])[.]([0-9])"), "${1}<prd>${2}"),
            (re(r"\s([A-Za-z])[.] "), " ${1}<prd> "),
            (re(&format!(r"([A-Z][.][A-Z][.](?:[A-Z][.])?) {starters}")), "${1}<stop> ${2}"),
            (re(r"([A-Za-z])[.]([A-Za-z])[.]([A-Za-z])[.]"), "${1}<prd>${2}<prd>${3}<prd>"),
            (re(r"([A-Za-z])[.]([A-Za-z])[.]"), "${1}<prd>${2}<prd>"),
            (re(&format!(r" (Inc|Ltd|Jr|Sr|Co)[.] {starters}")), " ${1}<stop> ${2}"),
            (re(r" (Inc|Ltd|Jr|Sr|Co)[.]"), " ${1}<prd>"),
            (re(r" ([A-Za-z])[.]"), " ${1}<prd>"),
        ]
    });
    static DOTS: LazyLock<Regex> = LazyLock::new(|| re(r"\.{2,}"));
    let mut t = format!(" {text}  ").replace('\n', " ");
    for (i, (pattern, rep)) in STEPS.iter().enumerate() {
        t = pattern.replace_all(&t, *rep).into_owned();
        if i == 2 {
            t = DOTS
                .replace_all(&t, |c: &regex::Captures| "<prd>".repeat(c[0].len()) + "<stop>")
                .into_owned();
            t = t.replace("Ph.D.", "Ph<prd>D<prd>");
        }
    }
    let t = t.replace(".”", "”.").replace(".\"", "\".").replace("!\"", "\"!").replace("?\"", "\"?");
    let t = t
        .replace('.', ".<stop>")
        .replace('?', "?<stop>")
        .replace('!', "!<stop>")
        .replace("<prd>", ".");
    let mut sentences: Vec<&str> = t.split("<stop>").map(str::trim).collect();
    if sentences.last().is_some_and(|s| s.is_empty()) {
        sentences.pop();
    }
    sentences.len()
}

fn relation_holds(relation: &str, actual: usize, threshold: i64) -> Result<bool, String> {
    match relation {
        "less than" => Ok((actual as i64) < threshold),
        "at least" => Ok((actual as i64) >= threshold),
        other => Err(format!("unknown relation `{other}`")),
    }
}

/// Python's `str.islower` / `str.isupper`: some cased letter, none of the other case.
fn py_is_case(s: &str, lower: bool) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() || c.is_uppercase() {
            cased = true;
            if (lower && c.is_uppercase()) || (!lower && c.is_lowercase()) {
                return false;
            }
        }
    }
    cased
}

fn ci(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .map_err(|e| format!("bad pattern: {e}"))
}

/// Whether `response` follows instruction `id` with arguments `kw` (IFEval's
/// `check_following`). `Err` names an unknown id or a missing argument. The checks
/// are grouped by the family an id starts with.
pub fn check(id: &str, kw: &Value, response: &str) -> Result<bool, String> {
    let a = Args { id, kw };
    match id.split_once(':').map_or(id, |(family, _)| family) {
        "length_constraints" => length_checks(&a, response),
        "detectable_format" => format_checks(&a, response),
        "detectable_content" | "change_case" | "punctuation" | "language" => {
            content_checks(&a, response)
        }
        "combination" | "startend" => shape_checks(&a, response),
        "keywords" => keyword_checks(&a, response),
        _ => Err(unknown(id)),
    }
}

fn unknown(id: &str) -> String {
    format!("unknown instruction `{id}`")
}

/// An instruction's id and its arguments, read with errors naming both.
struct Args<'a> {
    id: &'a str,
    kw: &'a Value,
}

impl Args<'_> {
    fn s(&self, k: &str) -> Result<&str, String> {
        let id = self.id;
        self.kw.get(k).and_then(Value::as_str).ok_or_else(|| format!("`{id}` needs argument `{k}`"))
    }

    fn n(&self, k: &str) -> Result<i64, String> {
        let id = self.id;
        self.kw.get(k).and_then(Value::as_i64).ok_or_else(|| format!("`{id}` needs number `{k}`"))
    }

    fn words(&self, k: &str) -> Result<Vec<String>, String> {
        let id = self.id;
        let list = self
            .kw
            .get(k)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("`{id}` needs list `{k}`"))?;
        Ok(list.iter().filter_map(Value::as_str).map(str::to_string).collect())
    }
}

/// `length_constraints:*`: words, sentences, paragraphs.
fn length_checks(a: &Args<'_>, response: &str) -> Result<bool, String> {
    Ok(match a.id {
        "length_constraints:number_words" => {
            relation_holds(a.s("relation")?, count_words(response), a.n("num_words")?)?
        }
        "length_constraints:number_sentences" => {
            relation_holds(a.s("relation")?, count_sentences(response), a.n("num_sentences")?)?
        }
        "length_constraints:number_paragraphs" => {
            let parts: Vec<&str> = PARAGRAPH_DIVIDER.split(response).collect();
            let mut count = parts.len() as i64;
            for (i, p) in parts.iter().enumerate() {
                if p.trim().is_empty() {
                    if i == 0 || i == parts.len() - 1 {
                        count -= 1;
                    } else {
                        return Ok(false);
                    }
                }
            }
            count == a.n("num_paragraphs")?
        }
        "length_constraints:nth_paragraph_first_word" => nth_paragraph_first_word(a, response)?,
        other => return Err(unknown(other)),
    })
}

fn nth_paragraph_first_word(a: &Args<'_>, response: &str) -> Result<bool, String> {
    let parts: Vec<&str> = response.split("\n\n").collect();
    let count = parts.iter().filter(|p| !p.trim().is_empty()).count() as i64;
    let nth = a.n("nth_paragraph")?;
    if nth < 1 || nth > count {
        return Ok(false);
    }
    let para = parts.get(nth as usize - 1).map_or("", |p| p.trim());
    let Some(word) = para.split_whitespace().next() else { return Ok(false) };
    let word = word.trim_start_matches('\'').trim_start_matches('"');
    let first: String =
        word.chars().take_while(|c| !".,?!'\"".contains(*c)).collect::<String>().to_lowercase();
    Ok(count == a.n("num_paragraphs")? && first == a.s("first_word")?.to_lowercase())
}

/// `detectable_format:*`: highlights, sections, bullets, fixed answers, JSON, titles.
fn format_checks(a: &Args<'_>, response: &str) -> Result<bool, String> {
    Ok(match a.id {
        "detectable_format:number_highlighted_sections" => {
            let single = HIGHLIGHT
                .find_iter(response)
                .filter(|m| !m.as_str().trim_matches('*').trim().is_empty());
            let double = DOUBLE_HIGHLIGHT.find_iter(response).filter(|m| {
                let t = m.as_str();
                !t[2..t.len() - 2].trim().is_empty()
            });
            (single.count() + double.count()) as i64 >= a.n("num_highlights")?
        }
        "detectable_format:multiple_sections" => {
            let splitter = a.s("section_spliter")?.trim().to_string();
            let pattern = re(&format!(r"\s?{}\s?\d+\s?", regex::escape(&splitter)));
            pattern.find_iter(response).count() as i64 >= a.n("num_sections")?
        }
        "detectable_format:number_bullet_lists" => {
            (BULLET_STAR.find_iter(response).count() + BULLET_DASH.find_iter(response).count())
                as i64
                == a.n("num_bullets")?
        }
        "detectable_format:constrained_response" => {
            let r = response.trim();
            ["My answer is yes.", "My answer is no.", "My answer is maybe."]
                .iter()
                .any(|o| r.contains(o))
        }
        "detectable_format:json_format" => {
            let mut v = response.trim();
            for p in ["```json", "```Json", "```JSON", "```"] {
                if let Some(rest) = v.strip_prefix(p) {
                    v = rest;
                    break;
                }
            }
            let v = v.strip_suffix("```").unwrap_or(v).trim();
            serde_json::from_str::<Value>(v).is_ok()
        }
        "detectable_format:title" => TITLE
            .find_iter(response)
            .any(|m| !m.as_str().trim_start_matches('<').trim_end_matches('>').trim().is_empty()),
        other => return Err(unknown(other)),
    })
}

/// What the text holds: placeholders, a postscript, letter case, commas, language.
fn content_checks(a: &Args<'_>, response: &str) -> Result<bool, String> {
    Ok(match a.id {
        "detectable_content:number_placeholders" => {
            PLACEHOLDER.find_iter(response).count() as i64 >= a.n("num_placeholders")?
        }
        "detectable_content:postscript" => {
            let marker = a.s("postscript_marker")?.trim().to_string();
            let pattern = match marker.as_str() {
                "P.P.S" => r"(?m)\s*p\.\s?p\.\s?s.*$".to_string(),
                "P.S." => r"(?m)\s*p\.\s?s\..*$".to_string(),
                m => format!(r"(?m)\s*{}.*$", regex::escape(&m.to_lowercase())),
            };
            re(&pattern).is_match(&response.to_lowercase())
        }
        "change_case:english_lowercase" => {
            py_is_case(response, true) && detect(response).is_none_or(|l| l == "en")
        }
        "change_case:english_capital" => {
            py_is_case(response, false) && detect(response).is_none_or(|l| l == "en")
        }
        "change_case:capital_word_frequency" => {
            let caps = TOKEN.find_iter(response).filter(|t| py_is_case(t.as_str(), false)).count();
            relation_holds(a.s("capital_relation")?, caps, a.n("capital_frequency")?)?
        }
        "punctuation:no_comma" => !response.contains(','),
        "language:response_language" => {
            let want = a.s("language")?;
            detect(response).is_none_or(|l| l == want)
        }
        other => return Err(unknown(other)),
    })
}

/// How the response is laid out end to end: repeated prompt, two responses, how it
/// ends, quotation marks.
fn shape_checks(a: &Args<'_>, response: &str) -> Result<bool, String> {
    Ok(match a.id {
        "combination:repeat_prompt" => response
            .trim()
            .to_lowercase()
            .starts_with(&a.s("prompt_to_repeat")?.trim().to_lowercase()),
        "combination:two_responses" => {
            let parts: Vec<&str> = response.split("******").collect();
            let mut valid = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                if p.trim().is_empty() {
                    if i != 0 && i != parts.len() - 1 {
                        return Ok(false);
                    }
                } else {
                    valid.push(p.trim());
                }
            }
            valid.len() == 2 && valid[0] != valid[1]
        }
        "startend:end_checker" => {
            let v = response.trim().trim_matches('"').to_lowercase();
            v.ends_with(&a.s("end_phrase")?.trim().to_lowercase())
        }
        "startend:quotation" => {
            let v = response.trim();
            v.chars().count() > 1 && v.starts_with('"') && v.ends_with('"')
        }
        other => return Err(unknown(other)),
    })
}

/// `keywords:*`: words present, absent, counted; letters counted.
fn keyword_checks(a: &Args<'_>, response: &str) -> Result<bool, String> {
    Ok(match a.id {
        "keywords:existence" => {
            let mut all = true;
            for k in a.words("keywords")? {
                all &= ci(&regex::escape(&k))?.is_match(response);
            }
            all
        }
        "keywords:forbidden_words" => {
            let mut none = true;
            for w in a.words("forbidden_words")? {
                none &= !ci(&format!(r"\b{}\b", regex::escape(&w)))?.is_match(response);
            }
            none
        }
        "keywords:frequency" => {
            let k = a.s("keyword")?.trim().to_string();
            let count = ci(&regex::escape(&k))?.find_iter(response).count();
            relation_holds(a.s("relation")?, count, a.n("frequency")?)?
        }
        "keywords:letter_frequency" => {
            let letter = a.s("letter")?.trim().to_lowercase();
            let lower = response.to_lowercase();
            let count = match letter.chars().next() {
                Some(l) => lower.chars().filter(|c| *c == l).count(),
                None => 0,
            };
            relation_holds(a.s("let_relation")?, count, a.n("let_frequency")?)?
        }
        other => return Err(unknown(other)),
    })
}
