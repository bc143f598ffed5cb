//! `POST /v1/completions` on a real `noa serve` running the two real test models:
//! text completions of a raw prompt (what base models and few-shot suites need),
//! streamed and not, with the same text either way at temperature 0; `echo`; scoring a
//! prompt's tokens with `echo` + `logprobs` + `max_tokens` 0 (the tokens spell the
//! prompt, offsets in characters, every token after the first has a log-probability no
//! higher than its position's likeliest); `auto` routing; and the requests it cannot
//! honour refused with a 400 naming the field.

mod common;

use common::serve::{Server, header};
use common::{TestHome, gemma3, model_entry, smollm2, write_registry};
use noa_registry::UseCase;
use serde_json::{Value, json};

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn text_completions_generate_stream_and_score_prompts() {
    let home = TestHome::new();
    write_registry(
        &home,
        vec![
            model_entry("smollm2", &smollm2(), &[UseCase::General]),
            model_entry("gemma3", &gemma3(), &[UseCase::General]),
        ],
    );
    let server = Server::start(&home, &["--threads", "2"], &[]);
    let prompt = "1, 2, 3, 4,";

    for model in ["smollm2", "gemma3"] {
        // Generated, whole and streamed: the same text.
        let req = json!({"model": model, "prompt": prompt, "max_tokens": 6, "temperature": 0});
        let (status, _, body) = server.post("/v1/completions", &req);
        assert_eq!(status, 200, "{body}");
        let v = json_of(&body);
        assert_eq!(v["object"], "text_completion", "{v}");
        let text = v["choices"][0]["text"].as_str().expect("text").to_owned();
        assert!(!text.is_empty(), "{v}");
        assert!(v["usage"]["completion_tokens"].as_u64().unwrap_or(0) >= 1, "{v}");

        let mut streamed_req = req.clone();
        streamed_req["stream"] = json!(true);
        let (status, _, sse) = server.post("/v1/completions", &streamed_req);
        assert_eq!(status, 200, "{sse}");
        let mut streamed = String::new();
        for data in sse.lines().filter_map(|l| l.strip_prefix("data: ")) {
            if data != "[DONE]" {
                let c = json_of(data);
                assert_eq!(c["object"], "text_completion", "{c}");
                streamed.push_str(c["choices"][0]["text"].as_str().unwrap_or_default());
            }
        }
        assert!(sse.trim_end().ends_with("data: [DONE]"), "{sse}");
        assert_eq!(streamed, text, "{model}: streamed and whole agree");

        // `echo`: the prompt, then the same completion.
        let mut echo_req = req.clone();
        echo_req["echo"] = json!(true);
        let (_, _, body) = server.post("/v1/completions", &echo_req);
        assert_eq!(json_of(&body)["choices"][0]["text"], format!("{prompt}{text}"), "{body}");

        // Scored: every token of the prompt, as lm-evaluation-harness reads them.
        let scored = "The capital of France is Paris.";
        let req = json!({"model": model, "prompt": scored, "max_tokens": 0, "echo": true,
                         "logprobs": 1});
        let (status, _, body) = server.post("/v1/completions", &req);
        assert_eq!(status, 200, "{body}");
        let v = json_of(&body);
        let lp = &v["choices"][0]["logprobs"];
        let tokens: Vec<&str> =
            lp["tokens"].as_array().expect("tokens").iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(tokens.concat(), scored, "{model}: the tokens spell the prompt");
        assert_eq!(v["choices"][0]["text"], scored);
        assert_eq!(v["usage"]["prompt_tokens"].as_u64(), Some(tokens.len() as u64));
        let offsets: Vec<u64> =
            lp["text_offset"].as_array().unwrap().iter().map(|o| o.as_u64().unwrap()).collect();
        let mut at = 0;
        for (t, o) in tokens.iter().zip(&offsets) {
            assert_eq!(*o, at, "{model}: offsets in characters");
            at += t.chars().count() as u64;
        }
        let (lps, tops) =
            (lp["token_logprobs"].as_array().unwrap(), lp["top_logprobs"].as_array().unwrap());
        for i in 1..tokens.len() {
            let l = lps[i].as_f64().unwrap_or_else(|| panic!("{model}: token {i} scored: {lp}"));
            let top =
                tops[i].as_object().expect("top 1").values().next().unwrap().as_f64().unwrap();
            assert!(l <= 0.0 && l <= top + 1e-9, "{model}: {i}: {l} vs {top}");
        }
        // A plausible text scores higher than a garbled one.
        let garbled = json!({"model": model, "prompt": "The capital of France is xq zvbn.",
                             "max_tokens": 0, "echo": true, "logprobs": 1});
        let (_, _, gbody) = server.post("/v1/completions", &garbled);
        let sum = |v: &Value| -> f64 {
            v["choices"][0]["logprobs"]["token_logprobs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_f64)
                .sum()
        };
        assert!(sum(&v) > sum(&json_of(&gbody)), "{model}: plausible beats garbled");
    }

    // `auto`: routed, and the response names the model and decision.
    let req = json!({"model": "auto", "prompt": prompt, "max_tokens": 3,
                     "noa": {"use_case": "general"}});
    let (status, head, body) = server.post("/v1/completions", &req);
    assert_eq!(status, 200, "{body}");
    assert!(header(&head, "x-noa-model").is_some() && header(&head, "x-noa-decision-id").is_some());

    // What cannot be honoured is a 400 naming the field.
    for (req, param) in [
        (json!({"model": "smollm2", "prompt": prompt, "max_tokens": 0}), "max_tokens"),
        (json!({"model": "smollm2", "prompt": prompt, "max_tokens": 4, "logprobs": 1}), "logprobs"),
        (json!({"model": "smollm2", "prompt": [prompt, prompt]}), "prompt"),
        (json!({"model": "smollm2", "prompt": ""}), "prompt"),
        (
            json!({"model": "smollm2", "prompt": prompt, "max_tokens": 0, "echo": true,
                   "stream": true}),
            "stream",
        ),
    ] {
        let (status, _, body) = server.post("/v1/completions", &req);
        assert_eq!(status, 400, "{req}: {body}");
        assert_eq!(json_of(&body)["error"]["param"], param, "{body}");
    }
    let (status, _, body) =
        server.post("/v1/completions", &json!({"model": "nope", "prompt": prompt}));
    assert_eq!(status, 404, "{body}");
}

#[test]
fn without_the_prefix_cache_a_repeated_request_gets_the_same_answer() {
    // With the cache, the second of two identical requests is decoded from the cells
    // the first left, split differently into decode calls, and may continue otherwise
    // at temperature 0. Without it every request is decoded whole, the same way.
    let home = TestHome::new();
    write_registry(&home, vec![model_entry("smollm2", &smollm2(), &[UseCase::General])]);
    let server = Server::start(&home, &["--threads", "2", "--no-prefix-cache"], &[]);
    let ask = |content: &str| {
        let req = json!({"model": "smollm2", "max_tokens": 24, "temperature": 0,
                         "messages": [{"role": "user", "content": content}]});
        let (status, _, body) = server.post("/v1/chat/completions", &req);
        assert_eq!(status, 200, "{body}");
        json_of(&body)["choices"][0]["message"]["content"].as_str().expect("text").to_owned()
    };
    let first = ask("Name a colour.");
    // Something else in between, sharing the chat template's prefix.
    ask("Name a fruit.");
    for _ in 0..2 {
        assert_eq!(ask("Name a colour."), first);
    }
}
