//! Every IFEval checker on a response that follows its instruction and one that
//! does not, the loose variants, and parsing of the real data.

use super::*;
use crate::kinds::ifeval_checks::count_sentences;

fn follows(id: &str, kw: Value, response: &str) -> bool {
    check(id, &kw, response).unwrap_or_else(|e| panic!("{id}: {e}"))
}

#[test]
fn each_checker_passes_and_fails() {
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("punctuation:no_comma", json!({}), "No commas here.", "One, two."),
        (
            "length_constraints:number_words",
            json!({"relation": "at least", "num_words": 5}),
            "one two three four five",
            "one two three",
        ),
        (
            "length_constraints:number_words",
            json!({"relation": "less than", "num_words": 3}),
            "one two",
            "one two three",
        ),
        (
            "length_constraints:number_sentences",
            json!({"relation": "less than", "num_sentences": 3}),
            "Dr. Smith came. He left.",
            "One. Two. Three. Four.",
        ),
        (
            "length_constraints:number_sentences",
            json!({"relation": "at least", "num_sentences": 2}),
            "It is 3.5 m long. Yes!",
            "It is 3.5 m long.",
        ),
        (
            "length_constraints:number_paragraphs",
            json!({"num_paragraphs": 2}),
            "First.\n***\nSecond.",
            "First.\n***\n***\nSecond.",
        ),
        (
            "length_constraints:nth_paragraph_first_word",
            json!({"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"}),
            "First part.\n\n\"Then, more.",
            "First part.\n\nAfter that.",
        ),
        (
            "detectable_format:number_highlighted_sections",
            json!({"num_highlights": 2}),
            "*one* and **two**",
            "*one* and ** **",
        ),
        (
            "detectable_format:multiple_sections",
            json!({"section_spliter": "Section", "num_sections": 2}),
            "Section 1\nA\nSection 2\nB",
            "Section 1\nA",
        ),
        (
            "detectable_format:number_bullet_lists",
            json!({"num_bullets": 2}),
            "* a\n- b\ntext",
            "* a\n* b\n* c",
        ),
        ("detectable_format:constrained_response", json!({}), "My answer is yes.", "Yes."),
        (
            "detectable_format:json_format",
            json!({}),
            "```json\n{\"a\": 1}\n```",
            "Here: {\"a\": 1}",
        ),
        ("detectable_format:title", json!({}), "<<My Poem>>\nRoses", "<< >> no title"),
        (
            "detectable_content:number_placeholders",
            json!({"num_placeholders": 2}),
            "[name] at [address]",
            "[name] only",
        ),
        (
            "detectable_content:postscript",
            json!({"postscript_marker": "P.S."}),
            "Hi.\n\nP.S. bye",
            "Hi. PS bye",
        ),
        (
            "detectable_content:postscript",
            json!({"postscript_marker": "P.P.S"}),
            "Hi.\np.p.s. bye",
            "Hi.\nP.S. bye",
        ),
        (
            "change_case:english_lowercase",
            json!({}),
            "all lowercase in the english language.",
            "Not all lowercase in the English language.",
        ),
        (
            "change_case:english_capital",
            json!({}),
            "ALL CAPITALS IN THE ENGLISH LANGUAGE.",
            "ALL CAPITALS but one IN THE ENGLISH LANGUAGE.",
        ),
        (
            "change_case:capital_word_frequency",
            json!({"capital_relation": "at least", "capital_frequency": 2}),
            "THIS is VERY good",
            "THIS is very good",
        ),
        (
            "change_case:capital_word_frequency",
            json!({"capital_relation": "less than", "capital_frequency": 2}),
            "THIS is very good",
            "THIS is VERY GOOD",
        ),
        (
            "combination:repeat_prompt",
            json!({"prompt_to_repeat": "Write a poem."}),
            "write a poem. Roses are red.",
            "Roses are red.",
        ),
        (
            "combination:two_responses",
            json!({}),
            "First answer.\n******\nSecond answer.",
            "Same.\n******\nSame.",
        ),
        (
            "keywords:existence",
            json!({"keywords": ["cat", "dog"]}),
            "A Cat and a DOG.",
            "A cat only.",
        ),
        (
            "keywords:forbidden_words",
            json!({"forbidden_words": ["cat"]}),
            "A catalogue of dogs.",
            "A Cat.",
        ),
        (
            "keywords:frequency",
            json!({"keyword": "cat", "relation": "at least", "frequency": 2}),
            "cat CAT",
            "cat dog",
        ),
        (
            "keywords:letter_frequency",
            json!({"letter": "z", "let_relation": "less than", "let_frequency": 2}),
            "zoo",
            "Zizz",
        ),
        (
            "language:response_language",
            json!({"language": "de"}),
            "Das ist ein schöner Tag und wir sind glücklich.",
            "This is a beautiful day and we are happy.",
        ),
        (
            "startend:end_checker",
            json!({"end_phrase": "Any other questions?"}),
            "Done. any other questions?\"",
            "Any other questions? Bye.",
        ),
        ("startend:quotation", json!({}), " \"Quoted.\" ", "\"Half quoted."),
    ];
    let mut seen: Vec<&str> = cases.iter().map(|c| c.0).collect();
    seen.dedup();
    assert_eq!(seen.len(), INSTRUCTIONS.len(), "every instruction has a test");
    for (id, kw, good, bad) in cases {
        assert!(follows(id, kw.clone(), good), "{id} should pass: {good:?}");
        assert!(!follows(id, kw, bad), "{id} should fail: {bad:?}");
    }
}

#[test]
fn sentences_are_split_like_ifeval() {
    assert_eq!(count_sentences("Mr. Smith went to Washington. He saw the U.S.A. capital."), 2);
    assert_eq!(count_sentences("Wait... what? Yes!"), 3);
    assert_eq!(count_sentences("Visit example.com today."), 1);
}

#[test]
fn score_is_the_fraction_followed_with_loose_details() {
    let ids = vec!["punctuation:no_comma".to_string(), "startend:quotation".to_string()];
    let kw = vec![json!({}), json!({})];
    let s = score("Sure here it is\n\"Hello world\"", &ids, &kw);
    assert_eq!(s.value, 0.5);
    let d: Value = serde_json::from_str(s.detail.as_deref().unwrap()).unwrap();
    assert_eq!(d["strict"], json!([true, false]));
    assert_eq!(d["loose"], json!([true, true]));
    assert_eq!(
        (d["prompt_strict"].as_bool(), d["prompt_loose"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(score("", &ids, &kw).value, 0.0);
    let missing = score("x", &["keywords:frequency".to_string()], &[json!({})]);
    assert_eq!(missing.value, 0.0);
    assert!(missing.detail.unwrap().contains("needs argument"));
}

#[test]
fn bad_records_are_errors() {
    let ok = json!({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]});
    assert_eq!(IfEval.parse(&ok, 0).unwrap().id, "1");
    let unknown = json!({"key": 1, "prompt": "p", "instruction_id_list": ["x:y"], "kwargs": [{}]});
    assert!(IfEval.parse(&unknown, 0).unwrap_err().contains("`x:y`"));
    let mismatch = json!({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []});
    assert!(IfEval.parse(&mismatch, 0).is_err());
}

#[test]
fn every_real_record_parses_and_scores() {
    let Some(path) = crate::kinds::test_data("ifeval/input_data.jsonl") else { return };
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let raw: Value = serde_json::from_str(line).unwrap();
        let item = IfEval.parse(&raw, i).unwrap_or_else(|e| panic!("{line}: {e}"));
        let ids: Vec<String> =
            serde_json::from_value(item.data["instruction_id_list"].clone()).unwrap();
        let kwargs = item.data["kwargs"].as_array().unwrap().clone();
        // Every instruction's arguments are there: no checker reports an error.
        let s = score("A plain answer, with a comma.", &ids, &kwargs);
        let d: Value = serde_json::from_str(s.detail.as_deref().unwrap()).unwrap();
        assert_eq!(d["errors"], json!([]), "{line}");
        n += 1;
    }
    assert_eq!(n, 541);
}
