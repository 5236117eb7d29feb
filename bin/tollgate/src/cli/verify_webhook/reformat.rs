//! The usual ways a framework or proxy writes a JSON body out again after parsing it. `verify-webhook` tries each:
//! when the signature matches one of them, the body was re-serialized between the provider and Tollgate.

use serde_json::Value;

/// One re-serialization of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// How it was written, for the explanation.
    pub label: &'static str,
    pub bytes: Vec<u8>,
}

/// Every distinct re-serialization of `body` that differs from it; empty when `body` is not JSON.
pub fn reserializations(body: &[u8]) -> Vec<Candidate> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let tokens = tokens(body);
    let mut out: Vec<Candidate> = Vec::new();
    let mut push = |label, bytes: Vec<u8>| {
        if bytes != body && !out.iter().any(|c| c.bytes == bytes) {
            out.push(Candidate { label, bytes });
        }
    };
    push(
        "compact (no spaces, as JSON.stringify or serde_json write it)",
        write(&tokens, Style::Compact),
    );
    push(
        "spaced (`, ` and `: `, as Python's json.dumps writes it)",
        write(&tokens, Style::Spaced),
    );
    push(
        "pretty-printed with 2-space indentation",
        write(&tokens, Style::Indent(2)),
    );
    push(
        "pretty-printed with 4-space indentation",
        write(&tokens, Style::Indent(4)),
    );
    if let Ok(bytes) = serde_json::to_vec(&value) {
        push("compact with the keys sorted", bytes);
    }
    if let Ok(bytes) = serde_json::to_vec_pretty(&value) {
        push("pretty-printed with the keys sorted", bytes);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Open(u8),
    Close(u8),
    Comma,
    Colon,
    /// A string (quotes and escapes as written), number or literal.
    Scalar(&'a [u8]),
}

/// The tokens of a body already known to be valid JSON, in order, strings and numbers byte for byte.
fn tokens(body: &[u8]) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'{' | b'[' => {
                out.push(Token::Open(b));
                i += 1;
            }
            b'}' | b']' => {
                out.push(Token::Close(b));
                i += 1;
            }
            b',' => {
                out.push(Token::Comma);
                i += 1;
            }
            b':' => {
                out.push(Token::Colon);
                i += 1;
            }
            b'"' => {
                let mut j = i + 1;
                while let Some(&c) = body.get(j) {
                    match c {
                        b'\\' => j += 2,
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                let end = (j + 1).min(body.len());
                out.push(Token::Scalar(&body[i..end]));
                i = end;
            }
            _ => {
                let mut j = i;
                while let Some(&c) = body.get(j) {
                    if matches!(
                        c,
                        b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b'[' | b']' | b',' | b':'
                    ) {
                        break;
                    }
                    j += 1;
                }
                out.push(Token::Scalar(&body[i..j]));
                i = j;
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Compact,
    Spaced,
    Indent(usize),
}

fn write(tokens: &[Token<'_>], style: Style) -> Vec<u8> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let newline = |out: &mut Vec<u8>, depth: usize, width: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * width));
    };
    let mut iter = tokens.iter().peekable();
    while let Some(token) = iter.next() {
        match *token {
            Token::Open(b) => {
                out.push(b);
                if let Some(Token::Close(c)) = iter.peek() {
                    out.push(*c);
                    iter.next();
                    continue;
                }
                depth += 1;
                if let Style::Indent(width) = style {
                    newline(&mut out, depth, width);
                }
            }
            Token::Close(b) => {
                depth = depth.saturating_sub(1);
                if let Style::Indent(width) = style {
                    newline(&mut out, depth, width);
                }
                out.push(b);
            }
            Token::Comma => {
                out.push(b',');
                match style {
                    Style::Compact => {}
                    Style::Spaced => out.push(b' '),
                    Style::Indent(width) => newline(&mut out, depth, width),
                }
            }
            Token::Colon => {
                out.push(b':');
                if style != Style::Compact {
                    out.push(b' ');
                }
            }
            Token::Scalar(bytes) => out.extend_from_slice(bytes),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPACT: &str = r#"{"type":"a, b: c","data":{"id":"x\"y","n":[1,2.50,{}],"e":[],"ok":true}}"#;

    fn labelled(body: &str, label_start: &str) -> String {
        let found = reserializations(body.as_bytes())
            .into_iter()
            .find(|c| c.label.starts_with(label_start))
            .unwrap();
        String::from_utf8(found.bytes).unwrap()
    }

    #[test]
    fn a_pretty_body_yields_the_compact_original_in_key_order() {
        // serde_json sorts keys (no preserve_order), so the key-ordered pretty form is written by hand.
        let hand_pretty = "{\n  \"type\": \"a, b: c\",\n  \"data\": {\n    \"id\": \"x\\\"y\",\n    \"n\": [\n      \
                           1,\n      2.50,\n      {}\n    ],\n    \"e\": [],\n    \"ok\": true\n  }\n}";
        assert_eq!(labelled(hand_pretty, "compact (no spaces"), COMPACT);
        assert_eq!(labelled(COMPACT, "pretty-printed with 2"), hand_pretty);
    }

    #[test]
    fn spaced_and_sorted_forms() {
        assert_eq!(
            labelled(COMPACT, "spaced"),
            r#"{"type": "a, b: c", "data": {"id": "x\"y", "n": [1, 2.50, {}], "e": [], "ok": true}}"#
        );
        assert_eq!(
            labelled(r#"{"b":1,"a":2}"#, "compact with the keys sorted"),
            r#"{"a":2,"b":1}"#
        );
    }

    #[test]
    fn the_body_itself_and_non_json_give_no_candidates() {
        assert!(
            reserializations(COMPACT.as_bytes())
                .iter()
                .all(|c| c.bytes != COMPACT.as_bytes())
        );
        assert!(reserializations(b"not json").is_empty());
        assert!(reserializations(b"").is_empty());
    }
}
