//! `noa-remote` against a real OpenAI-compatible server: this repository's own
//! `noa serve` with the real SmolLM2 test model. The model list names it, a streamed
//! chat answer arrives as timed deltas with a finish reason and token counts, the
//! non-streamed answer at temperature 0 is the same text, and `verify` succeeds.

mod common;

use common::serve::Server;
use common::{TestHome, model_entry, smollm2, write_registry};
use noa_registry::UseCase;
use noa_remote::{ChatRequest, ClientConfig, Message, RemoteClient, Sampling, StreamEvent};

#[test]
fn the_client_talks_to_a_real_noa_serve() {
    let home = TestHome::new();
    write_registry(&home, vec![model_entry("smollm2", &smollm2(), &[UseCase::General])]);
    // Every prompt decoded whole, so asking twice gives the same answer.
    let server = Server::start(&home, &["--threads", "2", "--no-prefix-cache"], &[]);
    // Given without `/v1`: the client adds it.
    let client =
        RemoteClient::new(&format!("http://{}", server.addr), None, ClientConfig::default())
            .unwrap();

    let models = client.list_models().unwrap();
    assert!(models.iter().any(|m| m.id == "smollm2"), "{models:?}");

    let req = ChatRequest {
        model: "smollm2".into(),
        messages: vec![Message::user("Name a colour.")],
        sampling: Sampling {
            max_tokens: Some(12),
            temperature: Some(0.0),
            seed: Some(1),
            stop: Vec::new(),
        },
    };
    let stream = client.chat_stream(&req).unwrap();
    let sent = stream.sent_at;
    let events: Vec<StreamEvent> = stream.map(|e| e.unwrap()).collect();
    let mut streamed = String::new();
    let mut last = sent;
    for e in &events[..events.len() - 1] {
        let StreamEvent::Delta { text, at } = e else {
            panic!("end before the last event: {events:?}")
        };
        assert!(*at >= last, "deltas are stamped in arrival order");
        last = *at;
        streamed.push_str(text);
    }
    let Some(StreamEvent::End(end)) = events.last() else { panic!("no end: {events:?}") };
    assert!(matches!(end.finish_reason.as_deref(), Some("stop" | "length")), "{end:?}");
    let usage = end.usage.clone().expect("noa serve sends usage when asked");
    assert!(usage.completion_tokens >= 1 && usage.prompt_tokens >= 1, "{usage:?}");
    assert!(!streamed.is_empty());

    let whole = client.chat(&req).unwrap();
    assert_eq!(whole.text, streamed, "temperature 0: the same answer streamed or not");

    let v = client.verify("smollm2").unwrap();
    assert_eq!(v.listed.id, "smollm2");
    assert!(!v.reply.text.is_empty());
}
