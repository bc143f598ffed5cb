//! Tests of the BFCL kind on real records (copied from `bfcl-eval`'s data files,
//! Apache-2.0) and, where the package's data folder can be found, on all of them.

use super::*;
use crate::kind::{Reply, Step};

const Q13: &str = r#"{"id": "simple_python_13", "question": [[{"role": "user", "content": "Calculate the area under the curve y=x^2 from x=1 to x=3."}]], "function": [{"name": "calculate_area_under_curve", "description": "Calculate the area under a mathematical function within a given interval.", "parameters": {"type": "dict", "properties": {"function": {"type": "string", "description": "The mathematical function as a string."}, "interval": {"type": "array", "items": {"type": "float"}, "description": "An array that defines the interval to calculate the area under the curve from the start to the end point."}, "method": {"type": "string", "description": "The numerical method to approximate the area under the curve. The default value is 'trapezoidal'."}}, "required": ["function", "interval"]}}]}"#;
const A13: &str = r#"{"id": "simple_python_13", "ground_truth": [{"calculate_area_under_curve": {"function": ["x**2", "lambda x: x**2", "y=x**2"], "interval": [[1.0, 3.0]], "method": ["", "trapezoidal"]}}]}"#;
const Q17: &str = r#"{"id": "simple_python_17", "question": [[{"role": "user", "content": "Find the prime factors of 450"}]], "function": [{"name": "get_prime_factors", "description": "Function to retrieve prime factors of a number.", "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "Number for which prime factors need to be calculated"}, "formatted": {"type": "boolean", "description": "Return formatted string if true, array if false. Default is true."}}, "required": ["number", "formatted"]}}]}"#;
const A17: &str = r#"{"id": "simple_python_17", "ground_truth": [{"get_prime_factors": {"number": [450], "formatted": [true, ""]}}]}"#;
const Q89: &str = r#"{"id": "simple_python_89", "question": [[{"role": "user", "content": "Fetch all records for students studying Science in 'Bluebird High School' from the StudentDB."}]], "function": [{"name": "db_fetch_records", "description": "Fetch records from a specified database table based on certain conditions.", "parameters": {"type": "dict", "properties": {"database_name": {"type": "string", "description": "The name of the database."}, "table_name": {"type": "string", "description": "The name of the table from which records need to be fetched."}, "conditions": {"type": "dict", "properties": {"department": {"type": "string", "description": "The name of the department of students."}, "school": {"type": "string", "description": "The name of the school students are enrolled in."}}, "description": "The conditions based on which records are to be fetched."}, "fetch_limit": {"type": "integer", "description": "Limits the number of records to be fetched. Default is 0, which means no limit."}}, "required": ["database_name", "table_name", "conditions"]}}]}"#;
const A89: &str = r#"{"id": "simple_python_89", "ground_truth": [{"db_fetch_records": {"database_name": ["StudentDB"], "table_name": ["students"], "conditions": [{"department": ["Science"], "school": ["Bluebird High School", "Bluebird HS"]}], "fetch_limit": ["", 0]}}]}"#;
const QM0: &str = r#"{"id": "multiple_0", "question": [[{"role": "user", "content": "Can I find the dimensions and properties of a triangle, if I know its three sides are 5 units, 4 units and 3 units long?"}]], "function": [{"name": "triangle_properties.get", "description": "Retrieve the dimensions, such as area and perimeter, of a triangle if lengths of three sides are given.", "parameters": {"type": "dict", "properties": {"side1": {"type": "integer", "description": "The length of first side of the triangle."}, "side2": {"type": "integer", "description": "The length of second side of the triangle."}, "side3": {"type": "integer", "description": "The length of third side of the triangle."}, "get_area": {"type": "boolean", "description": "A flag to determine whether to calculate the area of triangle. Default is true.", "default": true, "optional": true}, "get_perimeter": {"type": "boolean", "description": "A flag to determine whether to calculate the perimeter of triangle. Default is true.", "default": true, "optional": true}, "get_angles": {"type": "boolean", "description": "A flag to determine whether to calculate the internal angles of triangle. Default is true.", "default": true, "optional": true}}, "required": ["side1", "side2", "side3"]}}, {"name": "circle_properties.get", "description": "Retrieve the dimensions, such as area and circumference, of a circle if radius is given.", "parameters": {"type": "dict", "properties": {"radius": {"type": "float", "description": "The length of radius of the circle."}, "get_area": {"type": "boolean", "description": "A flag to determine whether to calculate the area of circle. Default is true.", "default": true, "optional": true}, "get_circumference": {"type": "boolean", "description": "A flag to determine whether to calculate the circumference of circle. Default is true.", "default": true, "optional": true}}, "required": ["radius"]}}]}"#;
const AM0: &str = r#"{"id": "multiple_0", "ground_truth": [{"triangle_properties.get": {"side1": [5], "side2": [4], "side3": [3], "get_area": ["", true], "get_perimeter": ["", true], "get_angles": ["", true]}}]}"#;

fn items() -> Vec<Item> {
    let q: Vec<Value> =
        [Q13, Q17, Q89, QM0].iter().map(|s| serde_json::from_str(s).unwrap()).collect();
    // Answers in another order: the join goes by id.
    let a: Vec<Value> =
        [AM0, A89, A17, A13].iter().map(|s| serde_json::from_str(s).unwrap()).collect();
    let joined = join(&q, &a);
    assert_eq!(joined.len(), 4);
    joined.iter().enumerate().map(|(i, r)| Bfcl.parse(r, i).unwrap()).collect()
}

fn run(item: &Item, output: &str, constrained: bool) -> Score {
    let settings = GenSettings { constrained, ..Default::default() };
    let mut ep = Bfcl.episode(item, &settings);
    let Step::Generate(req) = ep.step(None) else { panic!("expected a generation") };
    assert_eq!(req.constraint.is_some(), constrained);
    match ep.step(Some(Reply::Generated(crate::kinds::generated(output)))) {
        Step::Done(s) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn right_calls_match() {
    let it = items();
    for (item, out) in [
        (
            &it[0],
            r#"{"name": "calculate_area_under_curve", "arguments": {"function": "X**2", "interval": [1.0, 3.0]}}"#,
        ),
        (
            &it[0],
            r#"```json
{"name": "calculate_area_under_curve", "arguments": {"function": "lambda x: x**2", "interval": [1, 3], "method": "Trapezoidal"}}
```"#,
        ),
        (
            &it[1],
            r#"Sure: {"name": "get_prime_factors", "arguments": "{\"number\": 450, \"formatted\": true}"}"#,
        ),
        (
            &it[2],
            r#"[{"name": "db_fetch_records", "arguments": {"database_name": "studentdb", "table_name": "students", "conditions": {"department": "Science", "school": "Bluebird HS"}}}]"#,
        ),
        (
            &it[3],
            r#"{"triangle_properties.get": {"side1": 5, "side2": 4, "side3": 3, "get_angles": true}}"#,
        ),
        (
            &it[3],
            r#"{"function": {"name": "triangle_properties_get", "arguments": {"side1": 5, "side2": 4, "side3": 3}}}"#,
        ),
    ] {
        let s = run(item, out, false);
        assert_eq!(s.value, 1.0, "{} {out}: {:?}", item.id, s.detail);
    }
}

#[test]
fn wrong_calls_do_not_match() {
    let it = items();
    for (item, out, why) in [
        (
            &it[0],
            r#"{"name": "calculate_area_under_curve", "arguments": {"function": "x**3", "interval": [1.0, 3.0]}}"#,
            "value",
        ),
        (
            &it[0],
            r#"{"name": "calculate_area_under_curve", "arguments": {"function": "x**2"}}"#,
            "missing required",
        ),
        (
            &it[0],
            r#"{"name": "calculate_area_under_curve", "arguments": {"function": "x**2", "interval": [1.0, 3.0], "tol": 1}}"#,
            "unexpected",
        ),
        (
            &it[1],
            r#"{"name": "get_prime_factors", "arguments": {"number": "450", "formatted": true}}"#,
            "type",
        ),
        (
            &it[1],
            r#"{"name": "get_prime_factors", "arguments": {"number": 450.0, "formatted": true}}"#,
            "type",
        ),
        (
            &it[1],
            r#"{"name": "get_prime_factors", "arguments": {"number": 450, "formatted": false}}"#,
            "value",
        ),
        (
            &it[2],
            r#"{"name": "db_fetch_records", "arguments": {"database_name": "StudentDB", "table_name": "students", "conditions": {"department": "Arts", "school": "Bluebird HS"}}}"#,
            "dict value",
        ),
        (
            &it[2],
            r#"{"name": "db_fetch_records", "arguments": {"database_name": "StudentDB", "table_name": "students", "conditions": {"school": "Bluebird HS"}}}"#,
            "dict key",
        ),
        (
            &it[3],
            r#"{"name": "circle_properties.get", "arguments": {"radius": 5}}"#,
            "wrong function",
        ),
        (
            &it[3],
            r#"[{"name": "triangle_properties.get", "arguments": {"side1": 5, "side2": 4, "side3": 3}}, {"name": "triangle_properties.get", "arguments": {"side1": 5, "side2": 4, "side3": 3}}]"#,
            "count",
        ),
        (&it[3], "I think you should use a triangle calculator.", "no call"),
        (&it[3], "{\"name\": 5}", "malformed"),
        (&it[3], "", "empty"),
    ] {
        let s = run(item, out, false);
        assert_eq!(s.value, 0.0, "{why}: {out}");
    }
}

#[test]
fn raw_prompts_stop_where_the_model_would_write_the_next_turn() {
    let it = items();
    let step = |chat: bool| {
        let settings = GenSettings { chat, ..Default::default() };
        match Bfcl.episode(&it[1], &settings).step(None) {
            Step::Generate(req) => req,
            other => panic!("{other:?}"),
        }
    };
    let raw = step(false);
    let noa_engine::Prompt::Raw(text) = &raw.prompt else { panic!("raw prompt expected") };
    assert!(text.ends_with("\nassistant:"), "{text}");
    assert!(raw.stop.contains(&"\nuser:".to_string()), "{:?}", raw.stop);
    // A chat template ends the turn with its own end-of-turn token.
    assert!(step(true).stop.is_empty());
}

#[test]
fn constrained_requests_carry_a_schema_of_the_functions() {
    let it = items();
    let schema = call_schema(&it[3].data["functions"].as_array().unwrap().clone(), 1);
    let branches = schema["anyOf"].as_array().unwrap();
    assert_eq!(branches.len(), 2);
    assert_eq!(branches[1]["properties"]["name"]["enum"][0], "circle_properties.get");
    assert_eq!(branches[1]["properties"]["arguments"]["properties"]["radius"]["type"], "number");
    assert_eq!(
        branches[0]["properties"]["arguments"]["required"],
        json!(["side1", "side2", "side3"])
    );
    let nested = call_schema(it[2].data["functions"].as_array().unwrap(), 1);
    let cond = &nested["properties"]["arguments"]["properties"]["conditions"];
    assert_eq!(cond["type"], "object");
    assert_eq!(cond["properties"]["school"]["type"], "string");
    let arr = call_schema(it[0].data["functions"].as_array().unwrap(), 1);
    assert_eq!(arr["properties"]["arguments"]["properties"]["interval"]["items"]["type"], "number");
    assert_eq!(
        run(
            &it[1],
            r#"{"name": "get_prime_factors", "arguments": {"number": 450, "formatted": true}}"#,
            true
        )
        .value,
        1.0
    );
}

#[test]
fn records_without_answers_are_rejected() {
    let q: Value = serde_json::from_str(Q13).unwrap();
    assert!(Bfcl.parse(&q, 0).unwrap_err().contains("ground_truth"));
    assert!(join(&[q], &[]).is_empty());
    assert!(
        Bfcl.parse(
            &json!({"id": "simple_java_1", "question": "x", "function": [], "ground_truth": [{}]}),
            0
        )
        .is_err()
    );
}

/// The first allowed value of each parameter, recursively: the "perfect" call.
fn pick(allowed: &Value) -> Option<Value> {
    let first = allowed.as_array()?.iter().find(|v| v.as_str() != Some(""))?;
    Some(match first {
        Value::Object(m) => {
            Value::Object(m.iter().filter_map(|(k, v)| Some((k.clone(), pick(v)?))).collect())
        }
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            Value::Array(
                items
                    .iter()
                    .map(|d| {
                        Value::Object(
                            d.as_object()
                                .unwrap()
                                .iter()
                                .filter_map(|(k, v)| Some((k.clone(), pick(v)?)))
                                .collect(),
                        )
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    })
}

fn bfcl_data_dir() -> Option<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("NOA_BFCL_DATA_DIR") {
        return Some(d.into());
    }
    let out = std::process::Command::new(
        std::env::var("NOA_PYTHON").unwrap_or_else(|_| "python3".into()),
    )
    .args([
        "-c",
        "import bfcl_eval, os; print(os.path.join(os.path.dirname(bfcl_eval.__file__), 'data'))",
    ])
    .output()
    .ok()?;
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && dir.is_dir()).then_some(dir)
}

#[test]
fn every_real_record_accepts_its_own_answer() {
    let Some(dir) = bfcl_data_dir() else {
        eprintln!("skipping: no bfcl-eval data (install `bfcl-eval` or set NOA_BFCL_DATA_DIR)");
        return;
    };
    let lines = |p: std::path::PathBuf| -> Vec<Value> {
        std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    for name in ["BFCL_v4_simple_python.json", "BFCL_v4_multiple.json"] {
        let joined = join(&lines(dir.join(name)), &lines(dir.join("possible_answer").join(name)));
        assert!(joined.len() >= 200, "{name}: {}", joined.len());
        for (i, r) in joined.iter().enumerate() {
            let item = Bfcl.parse(r, i).unwrap();
            let gt = &item.data["ground_truth"][0];
            let (fname, params) = gt.as_object().unwrap().iter().next().unwrap();
            let args: Map<String, Value> = params
                .as_object()
                .unwrap()
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), pick(v)?)))
                .collect();
            let out = json!({"name": fname, "arguments": args}).to_string();
            let s = run(&item, &out, false);
            assert_eq!(s.value, 1.0, "{}: {out}: {:?}", item.id, s.detail);
            let wrong = json!({"name": format!("{fname}_x"), "arguments": args}).to_string();
            assert_eq!(run(&item, &wrong, false).value, 0.0);
        }
    }
}
