//! Chat templates: the GGUF's Jinja template rendered by minijinja, checked against the
//! exact format each model family expects and against llama.cpp's built-in renderer.

use noa_engine::{ChatMessage, TemplateKind};

use crate::common::{gemma, smollm};

fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::new("system", "You are terse."),
        ChatMessage::new("user", "Hi"),
        ChatMessage::new("assistant", "Hello."),
        ChatMessage::new("user", "2+2?"),
    ]
}

#[test]
fn smollm_renders_chatml_and_agrees_with_llama_cpp() {
    let m = smollm();
    assert_eq!(m.template_kind(), TemplateKind::Jinja);
    let jinja = m.render_chat(&conversation()).unwrap();
    assert_eq!(
        jinja,
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
         <|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n\
         <|im_start|>assistant\n"
    );
    assert_eq!(m.render_chat_llama_cpp(&conversation()).unwrap(), jinja);
}

#[test]
fn smollm_template_adds_its_default_system_prompt() {
    let out = smollm().render_chat(&[ChatMessage::new("user", "Hi")]).unwrap();
    assert!(out.starts_with("<|im_start|>system\n"), "{out}");
    assert!(out.ends_with("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"), "{out}");
}

#[test]
fn gemma_base_model_has_no_template_and_gets_a_plain_transcript() {
    // Gemma 3 270M is the base model: its GGUF carries no `tokenizer.chat_template`,
    // and llama.cpp's built-in renderer has nothing to go on either.
    let m = gemma();
    assert_eq!(m.info().chat_template, None);
    assert_eq!(m.template_kind(), TemplateKind::Plain);
    assert_eq!(
        m.render_chat(&conversation()).unwrap(),
        "system: You are terse.\nuser: Hi\nassistant: Hello.\nuser: 2+2?\nassistant:"
    );
    assert!(m.render_chat_llama_cpp(&conversation()).is_err());
}

#[test]
fn bos_written_in_the_prompt_is_not_doubled_by_the_tokenizer() {
    // Gemma adds BOS when tokenizing; a prompt (or template) that already starts with
    // `<bos>` must still hold exactly one.
    let m = gemma();
    assert_eq!(m.bos_text(), "<bos>");
    assert_eq!(m.count_tokens("<bos>Hello there"), m.count_tokens("Hello there"));
}
