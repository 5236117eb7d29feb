//! Holding real answers to the served OpenAPI document: an answer's status must be documented for its operation,
//! its JSON body must validate against the documented schema (JSON Schema 2020-12, formats checked, no undocumented
//! field), and an error's code must be one the operation lists for that status.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// One answer, as received.
struct Answer {
    status: u16,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// The document's component schemas, closed: every object schema that is not a branch of an `allOf` refuses
/// properties it does not declare, so a field the server sends but the document lacks fails validation.
pub fn closed_components(doc: &Value) -> Value {
    let mut schemas = doc["components"]["schemas"].clone();
    let text = schemas.to_string();
    let mut in_all_of = BTreeSet::new();
    for (name, schema) in schemas.as_object().unwrap() {
        if let Some(branches) = schema["allOf"].as_array() {
            for branch in branches {
                if let Some(r) = branch["$ref"].as_str() {
                    in_all_of.insert(r.trim_start_matches("#/components/schemas/").to_owned());
                }
            }
            assert!(text.contains(name));
        }
    }
    for (name, schema) in schemas.as_object_mut().unwrap() {
        let object = schema.as_object_mut().unwrap();
        let is_object = object.contains_key("properties") || object.contains_key("allOf");
        if is_object && !in_all_of.contains(name) && !object.contains_key("additionalProperties") {
            object.insert("unevaluatedProperties".to_owned(), Value::Bool(false));
        }
    }
    json!({ "schemas": schemas })
}

pub struct Contract {
    pub doc: Value,
    pub components: Value,
    pub server: String,
    /// operationId -> the statuses seen.
    pub seen: BTreeMap<String, BTreeSet<u16>>,
    pub client: reqwest::blocking::Client,
}

impl Contract {
    /// What in `body` does not match `schema` (a document schema or `$ref`), checked with the closed components.
    pub fn violations(&self, schema: &Value, body: &Value) -> Vec<String> {
        let mut schema = schema.clone();
        let root = schema.as_object_mut().unwrap();
        root.insert(
            "$schema".to_owned(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("components".to_owned(), self.components.clone());
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the documented schema does not build: {e}"));
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// The operation documented for `method` at the path `template`.
    fn operation(&self, method: &str, template: &str) -> &Value {
        let op = &self.doc["paths"][template][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        op
    }

    /// Send a request and hold its answer to the document.
    #[expect(
        clippy::too_many_arguments,
        reason = "one exchange, written out in full at each call"
    )]
    pub fn exchange(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        expect: u16,
    ) -> Value {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.server));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().unwrap();
        let answer = Answer {
            status: response.status().as_u16(),
            content_type: response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            text: response.text().unwrap(),
        };
        assert_eq!(answer.status, expect, "{method} {path}: {}", answer.text);
        self.check(method, template, &answer);
        answer.json()
    }

    pub fn json(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
        expect: u16,
    ) -> Value {
        let headers = [("content-type".to_owned(), "application/json".to_owned())];
        self.exchange(
            method,
            template,
            path,
            token,
            &headers,
            Some(body.to_string().into_bytes()),
            expect,
        )
    }

    pub fn get(&mut self, template: &str, path: &str, token: Option<&str>, expect: u16) -> Value {
        self.exchange("GET", template, path, token, &[], None, expect)
    }

    fn check(&mut self, method: &str, template: &str, answer: &Answer) {
        let op = self.operation(method, template).clone();
        let id = op["operationId"].as_str().unwrap().to_owned();
        let response = &op["responses"][answer.status.to_string()];
        assert!(
            response.is_object(),
            "{id}: status {} is not documented ({})",
            answer.status,
            answer.text
        );
        self.seen.entry(id.clone()).or_default().insert(answer.status);
        let Some(content) = response["content"].as_object() else {
            assert!(
                answer.text.is_empty(),
                "{id}: an undocumented body: {}",
                answer.text
            );
            return;
        };
        let essence = answer.content_type.split(';').next().unwrap_or_default().trim();
        let (_, media) = content
            .iter()
            .find(|(documented, _)| documented.split(';').next().unwrap_or_default().trim() == essence)
            .unwrap_or_else(|| panic!("{id}: content type `{}` is not documented", answer.content_type));
        if essence != "application/json" {
            return;
        }
        let body: Value = serde_json::from_str(&answer.text)
            .unwrap_or_else(|e| panic!("{id}: the body is not JSON ({e}): {}", answer.text));
        let errors = self.violations(&media["schema"], &body);
        assert!(
            errors.is_empty(),
            "{id} {}: the body does not match the document:\n{}\n{body:#}",
            answer.status,
            errors.join("\n")
        );
        if answer.status >= 400 {
            let code = body["code"].as_str().unwrap();
            assert!(
                media["examples"].get(code).is_some(),
                "{id}: {} {code} is not among the codes documented for that status",
                answer.status
            );
        }
    }
}
