//! BFCL's AST checker, for Python-category records, on JSON values: a model's call
//! is right when its function name is the expected one, every required parameter is
//! there, no parameter is unknown, every value has the documented type and is one of
//! the allowed values, and every omitted parameter is optional (`""` among its
//! allowed values). Following `bfcl_eval/eval_checker/ast_eval/ast_checker.py`:
//! strings compare after removing spaces and `,./-_*^` and lowercasing; an `int`
//! is accepted for `float`; a value of the possible answer's own type where the
//! documented type differs is a "variable" and compared as is; dicts and lists of
//! dicts are checked key by key; several expected calls (parallel) match in any
//! order.

use serde_json::{Map, Value};

/// A parsed model call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Map<String, Value>,
}

/// BFCL's `standardize_string`.
fn standardize(s: &str) -> String {
    s.chars()
        .filter(|c| !" ,./-_*^".contains(*c))
        .collect::<String>()
        .to_lowercase()
        .replace('\'', "\"")
}

/// Python's `==` on JSON values (1 == 1.0, True == 1).
fn py_eq(a: &Value, b: &Value) -> bool {
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Null, Value::Null) => true,
        _ => matches!((num(a), num(b)), (Some(x), Some(y)) if x == y),
    }
}

/// The Python type BFCL compares: `str int float bool list dict none`.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "none",
    }
}

/// BFCL's documented type → Python type (`PYTHON_TYPE_MAPPING`).
fn doc_type(t: &str) -> &'static str {
    match t {
        "integer" => "int",
        "float" | "number" => "float",
        "boolean" => "bool",
        "array" | "tuple" => "list",
        "dict" | "object" => "dict",
        _ => "str", // "string", "any"
    }
}

fn answer_type(allowed: &[Value]) -> Option<&'static str> {
    allowed.iter().find(|v| v.as_str() != Some("")).map(py_type)
}

fn std_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(standardize(s)),
        other => other.clone(),
    }
}

fn contains(allowed: &[Value], v: &Value) -> bool {
    allowed.iter().any(|a| py_eq(a, v))
}

/// `dict_checker`: the value matches one of the allowed dicts.
fn dict_ok(value: &Map<String, Value>, allowed: &[Value]) -> bool {
    allowed.iter().filter_map(Value::as_object).any(|want| {
        value.iter().all(|(k, v)| {
            want.get(k).and_then(Value::as_array).is_some_and(|opts| {
                let opts: Vec<Value> = opts.iter().map(std_value).collect();
                contains(&opts, &std_value(v))
            })
        }) && want.iter().all(|(k, opts)| {
            value.contains_key(k)
                || opts.as_array().is_some_and(|o| o.iter().any(|x| x.as_str() == Some("")))
        })
    })
}

/// `list_dict_checker`: same length as one allowed list, each dict matching.
fn list_dict_ok(value: &[Value], allowed: &[Value]) -> bool {
    allowed.iter().filter_map(Value::as_array).any(|want| {
        want.len() == value.len()
            && value
                .iter()
                .zip(want)
                .all(|(v, w)| v.as_object().is_some_and(|v| dict_ok(v, std::slice::from_ref(w))))
    })
}

/// `list_checker`: strings inside standardised, equal to one allowed list.
fn list_ok(value: &[Value], allowed: &[Value]) -> bool {
    let v: Vec<Value> = value.iter().map(std_value).collect();
    allowed.iter().filter_map(Value::as_array).any(|want| {
        let w: Vec<Value> = want.iter().map(std_value).collect();
        py_eq(&Value::Array(v.clone()), &Value::Array(w))
    })
}

/// Checks one argument; `Err` says why it is wrong.
fn check_param(name: &str, doc: &Value, value: &Value, allowed: &[Value]) -> Result<(), String> {
    let doc_t = doc.get("type").and_then(Value::as_str).unwrap_or("string");
    let expected = doc_type(doc_t);
    let mut value = value.clone();
    if expected == "float" && py_type(&value) == "int" {
        value = value.as_f64().map_or(value, |f| serde_json::json!(f));
    }
    let ans_t = answer_type(allowed);
    let nested = if expected == "list" {
        doc.get("items").and_then(|i| i.get("type")).and_then(Value::as_str).map(doc_type)
    } else {
        None
    };
    let vt = py_type(&value);
    let mut is_variable = ans_t.is_some_and(|t| t != expected);
    if vt == expected {
        if let (Some(inner), Value::Array(items)) = (nested, &value) {
            // One level of nested types, as BFCL checks them.
            let nested_ok = allowed.iter().any(|a| match a {
                Value::Array(opt) => items.iter().all(|it| {
                    py_type(it) == inner || answer_type(opt).is_some_and(|t| t == py_type(it))
                }),
                _ => true,
            });
            if !nested_ok {
                // BFCL then falls back to comparing the list as a "variable" (plain
                // equality) when the possible answers are lists too.
                if ans_t == Some(vt) {
                    is_variable = true;
                } else {
                    return Err(format!("parameter `{name}`: items are not all of type {inner}"));
                }
            }
        }
    } else if ans_t == Some(vt) {
        is_variable = true;
    } else {
        return Err(format!("parameter `{name}`: expected type {doc_t}, got {vt} `{value}`"));
    }
    let ok = if is_variable {
        contains(allowed, &value)
    } else {
        match (&value, expected, nested) {
            (Value::Object(m), "dict", _) => dict_ok(m, allowed),
            (Value::Array(items), "list", Some("dict")) => list_dict_ok(items, allowed),
            (Value::String(s), "str", _) => {
                let opts: Vec<String> =
                    allowed.iter().filter_map(Value::as_str).map(standardize).collect();
                opts.contains(&standardize(s))
            }
            (Value::Array(items), "list", _) => list_ok(items, allowed),
            _ => contains(allowed, &value),
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "parameter `{name}`: value `{value}` is not among {}",
            Value::Array(allowed.to_vec())
        ))
    }
}

fn names_match(doc_name: &str, called: &str) -> bool {
    called == doc_name || called == doc_name.replace('.', "_")
}

/// `simple_function_checker`: `call` against one expected call `{name: {param: [allowed]}}`.
pub fn check_call(functions: &[Value], call: &Call, expected: &Value) -> Result<(), String> {
    let (want_name, params) = expected
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or("possible answer is not `{name: params}`")?;
    let params = params.as_object().ok_or("possible answer parameters are not an object")?;
    if !names_match(want_name, &call.name) {
        return Err(format!("called `{}`, expected `{want_name}`", call.name));
    }
    let doc = functions
        .iter()
        .find(|f| f.get("name").and_then(Value::as_str) == Some(want_name.as_str()))
        .ok_or_else(|| format!("function `{want_name}` is not documented"))?;
    let schema = doc.get("parameters");
    let props = schema.and_then(|p| p.get("properties")).and_then(Value::as_object);
    let required = schema.and_then(|p| p.get("required")).and_then(Value::as_array);
    for r in required.into_iter().flatten().filter_map(Value::as_str) {
        if !call.args.contains_key(r) {
            return Err(format!("missing required parameter `{r}`"));
        }
    }
    for (name, value) in &call.args {
        let (Some(doc), Some(allowed)) =
            (props.and_then(|p| p.get(name)), params.get(name).and_then(Value::as_array))
        else {
            return Err(format!("unexpected parameter `{name}`"));
        };
        check_param(name, doc, value, allowed)?;
    }
    for (name, allowed) in params {
        let optional = allowed.as_array().is_some_and(|a| a.iter().any(|v| v.as_str() == Some("")));
        if !call.args.contains_key(name) && !optional {
            return Err(format!("parameter `{name}` is missing and not optional"));
        }
    }
    Ok(())
}

/// All expected calls made, each by a different model call, in any order (for one
/// expected call: exactly one call, as BFCL's simple and multiple checkers demand).
pub fn check_calls(functions: &[Value], calls: &[Call], expected: &[Value]) -> Result<(), String> {
    if calls.len() != expected.len() {
        return Err(format!("made {} call(s), expected {}", calls.len(), expected.len()));
    }
    let mut used = vec![false; calls.len()];
    for want in expected {
        let mut last_err = String::from("no call");
        let found = calls.iter().enumerate().position(|(i, c)| {
            !used[i]
                && match check_call(functions, c, want) {
                    Ok(()) => true,
                    Err(e) => {
                        last_err = e;
                        false
                    }
                }
        });
        match found {
            Some(i) => used[i] = true,
            None => return Err(last_err),
        }
    }
    Ok(())
}
