//! JSON schema → GBNF grammar. The binding exposes llama.cpp's own converter only with
//! its `common` feature, which compiles ~28k lines of extra C++ on every clean build, so
//! this converts the subset function calling (BFCL) needs: object with properties and
//! required, string, number, integer, boolean, null, array with items, enum, const,
//! anyOf/oneOf and type lists (plus BFCL's aliases dict/float/tuple/any). The rule
//! shapes follow llama.cpp's `json-schema-to-grammar` so outputs look the same.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use crate::EngineError;

const PRIMITIVES: &[(&str, &str)] = &[
    ("space", r#"| " " | "\n" [ \t]{0,20}"#),
    ("boolean", r#"("true" | "false") space"#),
    ("char", r#"[^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})"#),
    ("string", r#""\"" char* "\"" space"#),
    ("integral-part", r#"[0] | [1-9] [0-9]{0,15}"#),
    ("decimal-part", r#"[0-9]{1,16}"#),
    ("number", r#"("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space"#),
    ("integer", r#"("-"? integral-part) space"#),
    ("null", r#""null" space"#),
    ("value", r#"object | array | string | number | boolean | null"#),
    (
        "object",
        r#""{" space ( string ":" space value ("," space string ":" space value)* )? "}" space"#,
    ),
    ("array", r#""[" space ( value ("," space value)* )? "]" space"#),
];

/// Convert `schema` to a GBNF grammar whose `root` accepts exactly the JSON texts the
/// schema allows (within the supported subset).
pub fn json_schema_to_gbnf(schema: &Value) -> Result<String, EngineError> {
    let mut c = Converter { rules: BTreeMap::new(), n: 0 };
    let root = c.visit(schema, 0)?;
    c.rules.insert("root".to_owned(), root);
    // Pull in the primitives the rules use (and the ones those use).
    loop {
        let body: String = c.rules.values().cloned().collect::<Vec<_>>().join(" ");
        let mut added = false;
        for (name, def) in PRIMITIVES {
            if !c.rules.contains_key(*name) && mentions(&body, name) {
                c.rules.insert((*name).to_owned(), (*def).to_owned());
                added = true;
            }
        }
        if !added {
            break;
        }
    }
    let mut out = String::new();
    for (name, body) in &c.rules {
        let _ = writeln!(out, "{name} ::= {body}");
    }
    Ok(out)
}

/// Whether the rule `name` is referenced in `body` (outside string literals).
fn mentions(body: &str, name: &str) -> bool {
    let mut in_str = false;
    let mut prev = '\0';
    let bytes: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let ch = bytes[i];
        if ch == '"' && prev != '\\' {
            in_str = !in_str;
        } else if ch == '[' && !in_str {
            // skip a character class
            while i < bytes.len() && !(bytes[i] == ']' && bytes[i - 1] != '\\') {
                i += 1;
            }
        } else if !in_str && (i == 0 || !is_name_char(bytes[i - 1])) {
            let rest: String = bytes[i..].iter().take(name.len() + 1).collect();
            if rest.starts_with(name)
                && rest[name.len()..].chars().next().is_none_or(|c| !is_name_char(c))
            {
                return true;
            }
        }
        prev = if prev == '\\' && ch == '\\' { '\0' } else { ch };
        i += 1;
    }
    false
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

struct Converter {
    rules: BTreeMap<String, String>,
    n: usize,
}

impl Converter {
    fn add(&mut self, body: String) -> String {
        self.n += 1;
        let name = format!("r{}", self.n);
        self.rules.insert(name.clone(), body);
        name
    }

    /// A rule expression for `schema`.
    fn visit(&mut self, schema: &Value, depth: usize) -> Result<String, EngineError> {
        let err = |m: String| EngineError::Constraint(format!("JSON schema: {m}"));
        if depth > 32 {
            return Err(err("nested deeper than 32 levels".into()));
        }
        let obj = match schema {
            Value::Bool(true) => return Ok("value".into()),
            Value::Object(o) => o,
            other => return Err(err(format!("expected an object, got `{other}`"))),
        };
        if obj.contains_key("$ref") {
            return Err(err("`$ref` is not supported".into()));
        }
        if let Some(c) = obj.get("const") {
            return Ok(format!("{} space", literal(&c.to_string())));
        }
        if let Some(e) = obj.get("enum") {
            let vals = e.as_array().ok_or_else(|| err("`enum` must be an array".into()))?;
            if vals.is_empty() {
                return Err(err("`enum` is empty".into()));
            }
            let alts: Vec<String> = vals.iter().map(|v| literal(&v.to_string())).collect();
            return Ok(format!("({}) space", alts.join(" | ")));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(list) = obj.get(key) {
                let list =
                    list.as_array().ok_or_else(|| err(format!("`{key}` must be an array")))?;
                let alts =
                    list.iter().map(|s| self.visit(s, depth + 1)).collect::<Result<Vec<_>, _>>()?;
                if alts.is_empty() {
                    return Err(err(format!("`{key}` is empty")));
                }
                return Ok(format!("({})", alts.join(" | ")));
            }
        }
        let ty = match obj.get("type") {
            None if obj.contains_key("properties") => "object".to_owned(),
            None if obj.contains_key("items") => "array".to_owned(),
            None => return Ok("value".into()),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(types)) => {
                let alts = types
                    .iter()
                    .map(|t| {
                        let mut sub = obj.clone();
                        sub.insert("type".into(), t.clone());
                        self.visit(&Value::Object(sub), depth + 1)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(format!("({})", alts.join(" | ")));
            }
            Some(other) => return Err(err(format!("bad `type` `{other}`"))),
        };
        match ty.as_str() {
            "string" => Ok("string".into()),
            "number" | "float" | "double" => Ok("number".into()),
            "integer" | "int" => Ok("integer".into()),
            "boolean" | "bool" => Ok("boolean".into()),
            "null" => Ok("null".into()),
            "any" => Ok("value".into()),
            "array" | "tuple" | "list" => {
                let item = match obj.get("items") {
                    Some(items) => self.visit(items, depth + 1)?,
                    None => "value".into(),
                };
                let body = format!(r#""[" space ( {item} ( "," space {item} )* )? "]" space"#);
                Ok(self.add(body))
            }
            "object" | "dict" => self.object(obj, depth),
            other => Err(err(format!("unsupported type `{other}`"))),
        }
    }

    fn object(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        depth: usize,
    ) -> Result<String, EngineError> {
        let props = match obj.get("properties") {
            Some(Value::Object(p)) if !p.is_empty() => p,
            _ => return Ok("object".into()),
        };
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut kv = BTreeMap::new();
        for (name, sub) in props {
            let value = self.visit(sub, depth + 1)?;
            let key = literal(&Value::String(name.clone()).to_string());
            kv.insert(name.as_str(), self.add(format!(r#"{key} space ":" space {value}"#)));
        }
        let req: Vec<&String> = required.iter().filter_map(|r| kv.get(r)).collect();
        let opt: Vec<&String> =
            kv.iter().filter(|(k, _)| !required.contains(k)).map(|(_, v)| v).collect();
        let mut body = String::from(r#""{" space "#);
        body.push_str(&req.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(r#" "," space "#));
        if !opt.is_empty() {
            // Any subset of the optional properties, in order.
            let chains: Vec<String> = (0..opt.len())
                .map(|i| {
                    let mut s = opt[i].clone();
                    for o in &opt[i + 1..] {
                        let _ = write!(s, r#" ( "," space {o} )?"#);
                    }
                    s
                })
                .collect();
            if req.is_empty() {
                let _ = write!(body, " ( {} )?", chains.join(" | "));
            } else {
                let _ = write!(body, r#" ( "," space ( {} ) )?"#, chains.join(" | "));
            }
        }
        body.push_str(r#" "}" space"#);
        Ok(self.add(body))
    }
}

/// A GBNF string literal matching exactly `s`.
fn literal(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_with_required_and_optional() {
        let g = json_schema_to_gbnf(&json!({
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"]
        }))
        .unwrap();
        assert!(g.contains("root ::= r4"), "{g}");
        assert!(g.contains(r#""\"city\"" space ":" space string"#), "{g}");
        assert!(g.contains(r#"("\"c\"" | "\"f\"") space"#), "{g}");
        for prim in ["string ::=", "integer ::=", "space ::=", "char ::=", "integral-part ::="] {
            assert!(g.contains(prim), "missing {prim} in {g}");
        }
        assert!(!g.contains("boolean ::="), "{g}");
    }

    #[test]
    fn unsupported_is_a_constraint_error() {
        for bad in [
            json!({"$ref": "#/x"}),
            json!({"type": "complex"}),
            json!("string"),
            json!({"enum": []}),
        ] {
            assert!(matches!(json_schema_to_gbnf(&bad), Err(EngineError::Constraint(_))), "{bad}");
        }
    }

    #[test]
    fn mentions_ignores_literals_and_classes() {
        assert!(!mentions(r#""string" [a-z]"#, "string"));
        assert!(mentions(r#""x" string"#, "string"));
        assert!(!mentions("integral-part", "integral"));
    }
}
