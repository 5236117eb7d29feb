//! Reading a captured delivery's headers: `Name: value` lines as copied from a provider's delivery log or from
//! `curl -v` (`> ` and `< ` prefixes, `*` info lines and request/status lines are skipped), or a JSON object of
//! names to values.

/// The headers found, and the line numbers (1-based) that were not header lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadersFile {
    pub headers: Vec<(String, String)>,
    pub skipped: Vec<usize>,
}

pub fn parse(text: &str) -> HeadersFile {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{')
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text)
    {
        let headers = map
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (name, value.trim().to_owned())
            })
            .collect();
        return HeadersFile {
            headers,
            skipped: Vec::new(),
        };
    }
    let mut file = HeadersFile::default();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let line = line
            .strip_prefix("> ")
            .or_else(|| line.strip_prefix("< "))
            .unwrap_or(line)
            .trim();
        if line.is_empty() || line == ">" || line == "<" {
            continue;
        }
        if line.starts_with('*') || line.starts_with("HTTP/") || line.contains(" HTTP/") {
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if is_token(name) => {
                file.headers.push((name.to_owned(), value.trim().to_owned()));
            }
            _ => file.skipped.push(index + 1),
        }
    }
    file
}

/// An HTTP header name: visible ASCII without separators (so `:authority` pseudo-headers and prose are skipped).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(file: &HeadersFile) -> Vec<(&str, &str)> {
        file.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn plain_lines_keep_values_with_colons() {
        let file =
            parse("webhook-id: msg_1\r\nwebhook-timestamp:1700000000\nwebhook-signature: v1,abc= v1,def=\n");
        assert_eq!(
            pairs(&file),
            [
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", "1700000000"),
                ("webhook-signature", "v1,abc= v1,def=")
            ]
        );
        assert!(file.skipped.is_empty());
        let file = parse("X-Trace: a:b:c\n");
        assert_eq!(pairs(&file), [("X-Trace", "a:b:c")]);
    }

    #[test]
    fn curl_verbose_output_is_understood() {
        let text = "*   Trying 127.0.0.1:8080...\n> POST /api/webhooks/dodo HTTP/1.1\n> Host: localhost\n\
                    > webhook-id: msg_2\n>\n< HTTP/1.1 200 OK\n< content-length: 15\nsomething odd\n";
        let file = parse(text);
        assert_eq!(
            pairs(&file),
            [
                ("Host", "localhost"),
                ("webhook-id", "msg_2"),
                ("content-length", "15")
            ]
        );
        assert_eq!(file.skipped, [8]);
    }

    #[test]
    fn a_json_object_is_accepted() {
        let file = parse(r#"{"webhook-id": "msg_3", "webhook-timestamp": 1700000000}"#);
        assert_eq!(
            pairs(&file),
            [("webhook-id", "msg_3"), ("webhook-timestamp", "1700000000")]
        );
    }
}
