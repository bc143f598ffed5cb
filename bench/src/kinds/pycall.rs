//! Python call syntax, the other way models answer BFCL: `[get_weather(city='Paris',
//! days=3)]`. BFCL's own prompt format asks for exactly this, so models trained on
//! it answer so even when asked for JSON. Only literal arguments are understood
//! (numbers, strings, `True`/`False`/`None`, lists, tuples, dicts), which is all a
//! possible answer can hold; anything else makes the call unparsable, not a panic.

use serde_json::{Map, Number, Value};

use super::bfcl_match::Call;

/// Calls to any of `known` written as Python in `text`, in order.
pub fn parse_python_calls(text: &str, known: &[&str]) -> Option<Vec<Call>> {
    let chars: Vec<char> = text.chars().collect();
    let mut calls = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0
            || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == '.');
        if starts_word {
            let hit = known.iter().find(|name| {
                let n: Vec<char> = name.chars().collect();
                chars[i..].starts_with(&n) && chars.get(i + n.len()) == Some(&'(')
            });
            if let Some(name) = hit {
                let mut p = Lit { c: &chars, i: i + name.chars().count() + 1, depth: 0 };
                if let Some(args) = p.kwargs() {
                    calls.push(Call { name: name.to_string(), args });
                    i = p.i;
                    continue;
                }
            }
        }
        i += 1;
    }
    (!calls.is_empty()).then_some(calls)
}

struct Lit<'a> {
    c: &'a [char],
    i: usize,
    depth: usize,
}

impl Lit<'_> {
    fn ws(&mut self) {
        while self.c.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, ch: char) -> bool {
        self.ws();
        if self.c.get(self.i) == Some(&ch) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// `a=1, b='x')` — after the opening parenthesis, through the closing one.
    fn kwargs(&mut self) -> Option<Map<String, Value>> {
        let mut args = Map::new();
        loop {
            if self.eat(')') {
                return Some(args);
            }
            self.ws();
            let start = self.i;
            while self.c.get(self.i).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
                self.i += 1;
            }
            let key: String = self.c[start..self.i].iter().collect();
            if key.is_empty() || !self.eat('=') {
                return None;
            }
            let v = self.value()?;
            args.insert(key, v);
            if !self.eat(',') {
                return self.eat(')').then_some(args);
            }
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        self.depth += 1;
        if self.depth > 32 {
            return None;
        }
        let v = match *self.c.get(self.i)? {
            q @ ('\'' | '"') => self.string(q).map(Value::String),
            '[' | '(' => {
                let close = if self.c[self.i] == '[' { ']' } else { ')' };
                self.i += 1;
                let mut items = Vec::new();
                while !self.eat(close) {
                    items.push(self.value()?);
                    if !self.eat(',') {
                        if !self.eat(close) {
                            return None;
                        }
                        break;
                    }
                }
                Some(Value::Array(items))
            }
            '{' => {
                self.i += 1;
                let mut m = Map::new();
                while !self.eat('}') {
                    let k = match self.value()? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if !self.eat(':') {
                        return None;
                    }
                    m.insert(k, self.value()?);
                    if !self.eat(',') {
                        if !self.eat('}') {
                            return None;
                        }
                        break;
                    }
                }
                Some(Value::Object(m))
            }
            _ => self.scalar(),
        };
        self.depth -= 1;
        v
    }

    fn string(&mut self, quote: char) -> Option<String> {
        self.i += 1;
        let mut s = String::new();
        while let Some(&c) = self.c.get(self.i) {
            self.i += 1;
            match c {
                '\\' => {
                    let e = *self.c.get(self.i)?;
                    self.i += 1;
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
                c if c == quote => return Some(s),
                c => s.push(c),
            }
        }
        None
    }

    fn scalar(&mut self) -> Option<Value> {
        let start = self.i;
        while self
            .c
            .get(self.i)
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        {
            self.i += 1;
        }
        let word: String = self.c[start..self.i].iter().collect();
        match word.as_str() {
            "True" | "true" => Some(Value::Bool(true)),
            "False" | "false" => Some(Value::Bool(false)),
            "None" | "null" => Some(Value::Null),
            w => {
                if let Ok(n) = w.parse::<i64>() {
                    Some(Value::Number(n.into()))
                } else {
                    w.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_python_calls_with_literal_arguments() {
        let known = ["math.factorial", "get_weather"];
        let calls = parse_python_calls(
            "Sure! [get_weather(city='Paris', days=3, units=\"c\", hours=[1, 2.5], opts={'a': True, 'b': None}), math.factorial(number=5)]",
            &known,
        )
        .unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name, "get_weather");
        assert_eq!(
            Value::Object(calls[0].args.clone()),
            json!({"city": "Paris", "days": 3, "units": "c", "hours": [1, 2.5], "opts": {"a": true, "b": null}})
        );
        assert_eq!(Value::Object(calls[1].args.clone()), json!({"number": 5}));
    }

    #[test]
    fn junk_is_not_a_call() {
        let known = ["f"];
        for t in [
            "f(",
            "f(x)",
            "f(a=)",
            "f(a=open('x'))",
            "elf(a=1)",
            "f(a='unterminated)",
            "",
            &"f(a=[".repeat(50),
        ] {
            assert!(parse_python_calls(t, &known).is_none(), "{t}");
        }
        assert!(parse_python_calls("f()", &known).is_some());
    }
}
