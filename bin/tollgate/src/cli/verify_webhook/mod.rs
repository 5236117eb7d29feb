//! `tollgate verify-webhook`: check a captured delivery against the configured secrets, offline, and say exactly
//! why it fails: a missing or malformed header, a stale or future timestamp (by how much), no secret matching, or a
//! body altered after signing (a trailing line break, or JSON parsed and written out again).

mod headers_file;
mod reformat;

use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};
use tollgate_policy::Provider;
use tollgate_providers::Registry;
use tollgate_verify::{Header, Tolerance, Verified, VerifyError};

use crate::app::tolerance;
use crate::cli::guide::guide;
use crate::cli::signing::{ProviderVerifier, labelled_secrets, provider_verifier, secret_problem};
use crate::cli::{CliError, VerifyWebhookArgs, env_var};
use crate::settings::{Settings, SignatureTolerance};

/// The outcome, as printed: a headline and the lines that explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub valid: bool,
    pub headline: String,
    pub lines: Vec<String>,
}

pub fn run(settings: &Settings, args: &VerifyWebhookArgs) -> Result<(), CliError> {
    let headers_text = read(&args.headers)?;
    let body = fs::read(&args.body).map_err(|source| CliError::ReadFile {
        path: args.body.clone(),
        source,
    })?;
    let parsed = headers_file::parse(&String::from_utf8_lossy(&headers_text));
    for line in &parsed.skipped {
        println!(
            "note: skipped line {line} of {}: not a `Name: value` header",
            args.headers.display()
        );
    }
    if parsed.headers.is_empty() {
        return Err(CliError::Usage(format!(
            "{} holds no `Name: value` header lines: copy the delivery's request headers into it",
            args.headers.display()
        )));
    }

    let provider = args.provider;
    let config = settings.providers.get(provider);
    let secrets = labelled_secrets(provider, config);
    if secrets.is_empty() {
        let key = format!("providers.{provider}.webhook_secret");
        return Err(CliError::Usage(format!(
            "no webhook secret is configured for {provider}: set {} (or {key} in tollgate.toml) to the secret from \
             {}",
            env_var(&key),
            guide(provider).secret_where
        )));
    }
    let values: Vec<&str> = secrets.iter().map(|(_, s)| *s).collect();
    let checker = Checker {
        provider,
        strict: provider_verifier(provider, &values, tolerance(config.signature_tolerance))
            .map_err(|e| CliError::Usage(format!("configuration: {}", secret_problem(e, &secrets))))?,
        lenient: provider_verifier(provider, &values, Tolerance::Unlimited)
            .map_err(|e| CliError::Usage(format!("configuration: {}", secret_problem(e, &secrets))))?,
        labels: secrets.iter().map(|(label, _)| label.clone()).collect(),
        tolerance: config.signature_tolerance,
    };
    let now = args.at.unwrap_or_else(|| Utc::now().timestamp());
    let verdict = checker.explain(&parsed.headers, &body, now);
    println!("{} {}", if verdict.valid { "✔" } else { "✘" }, verdict.headline);
    for line in &verdict.lines {
        println!("  {line}");
    }
    if verdict.valid {
        Ok(())
    } else {
        Err(CliError::WebhookInvalid)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    fs::read(path).map_err(|source| CliError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// A provider's verifiers: one with the configured tolerance, one without (to tell a time problem from a
/// signature problem).
struct Checker {
    provider: Provider,
    strict: ProviderVerifier,
    lenient: ProviderVerifier,
    labels: Vec<String>,
    tolerance: SignatureTolerance,
}

type Headers = Vec<(String, String)>;

impl Checker {
    fn explain(&self, headers: &Headers, body: &[u8], now: i64) -> Verdict {
        let title = guide(self.provider).title;
        match self.strict.verify(headers, body, now) {
            Ok(verified) => Verdict {
                valid: true,
                headline: format!("valid {title} delivery"),
                lines: self.describe(&verified, body, now),
            },
            Err(VerifyError::MissingHeader(header)) => self.missing_header(header, headers),
            Err(VerifyError::MalformedHeader(header)) => malformed_header(header, headers),
            Err(e @ (VerifyError::StaleTimestamp | VerifyError::FutureTimestamp)) => {
                self.bad_time(e, headers, body, now)
            }
            Err(VerifyError::NoMatchingSignature) => self.no_match(headers, body, now),
            Err(other) => Verdict {
                valid: false,
                headline: other.to_string(),
                lines: Vec::new(),
            },
        }
    }

    fn describe(&self, verified: &Verified<'_>, body: &[u8], now: i64) -> Vec<String> {
        let scheme = Registry::shared()
            .get(self.provider)
            .map_or("other", |adapter| adapter.scheme_label(verified.scheme));
        let mut lines = vec![format!("scheme: {scheme}")];
        if let Some(id) = verified.webhook_id {
            lines.push(format!("webhook id: {id}"));
        }
        if let Some(event) = event_type(body) {
            lines.push(format!("event: {event}"));
        }
        lines.push(format!(
            "signed at: {} ({}; tolerance {})",
            time(verified.timestamp),
            relative(verified.timestamp, now),
            self.tolerance_text()
        ));
        let label = self.label(verified.secret_index);
        if verified.secret_index == 0 {
            lines.push(format!("matched secret: {label}"));
        } else {
            lines.push(format!(
                "matched secret: {label} (an old secret: the provider still signs with it)"
            ));
        }
        lines
    }

    fn label(&self, index: usize) -> String {
        self.labels
            .get(index)
            .cloned()
            .unwrap_or_else(|| format!("secret #{index}"))
    }

    fn tolerance_text(&self) -> String {
        match self.tolerance {
            SignatureTolerance::Off => "off".to_owned(),
            SignatureTolerance::Within(d) => format!("±{d}"),
        }
    }

    fn missing_header(&self, header: Header, headers: &Headers) -> Verdict {
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        let g = guide(self.provider);
        let mut lines = vec![
            format!("the headers file has: {}", names.join(", ")),
            format!("{} deliveries carry {}", g.title, g.headers),
        ];
        if let Some(other) = looks_like(headers).filter(|&other| other != self.provider) {
            lines.push(format!(
                "these headers look like they come from {}: try --provider {other}",
                guide(other).title
            ));
        }
        lines.push("copy every request header the provider sent, not only the signature".to_owned());
        Verdict {
            valid: false,
            headline: format!("missing header `{header}`"),
            lines,
        }
    }

    fn bad_time(&self, error: VerifyError, headers: &Headers, body: &[u8], now: i64) -> Verdict {
        let key = format!("providers.{}.signature_tolerance", self.provider);
        let signed = signed_timestamp(headers);
        let mut lines = Vec::new();
        if let Some(ts) = signed {
            lines.push(format!(
                "signed at {}, {} (now is {}); the tolerance is {} ({key})",
                time(ts),
                relative(ts, now),
                time(now),
                self.tolerance_text()
            ));
        }
        match self.lenient.verify(headers, body, now) {
            Ok(verified) => {
                lines.push(format!(
                    "the signature itself is valid ({}): only the time is off",
                    self.label(verified.secret_index)
                ));
                if error == VerifyError::StaleTimestamp {
                    lines.push(format!(
                        "a delivery captured earlier can be checked as of its arrival with --at {}; if it just \
                         arrived, this machine's clock is ahead of the sender's (check NTP) or a proxy held it back",
                        signed.unwrap_or(now)
                    ));
                } else {
                    lines.push(
                        "this machine's clock is behind the sender's (check NTP on this machine)".to_owned(),
                    );
                }
            }
            Err(_) => {
                let signature = self.no_match(headers, body, now);
                lines.push(format!(
                    "the signature does not match either: {}",
                    signature.headline
                ));
                lines.extend(signature.lines);
            }
        }
        let headline = match error {
            VerifyError::FutureTimestamp => "the timestamp is too far in the future".to_owned(),
            _ => "the timestamp is too old".to_owned(),
        };
        Verdict {
            valid: false,
            headline,
            lines,
        }
    }

    fn no_match(&self, headers: &Headers, body: &[u8], now: i64) -> Verdict {
        let matches = |candidate: &[u8]| self.lenient.verify(headers, candidate, now).is_ok();
        let trimmed = body.trim_ascii_end();
        if trimmed.len() != body.len() && matches(trimmed) {
            return Verdict {
                valid: false,
                headline: "the body file ends with a line break or spaces that were not delivered".to_owned(),
                lines: vec![
                    "the signature matches the body without its trailing whitespace: an editor or `echo` added it"
                        .to_owned(),
                    "save the body exactly as received (e.g. `printf '%s' ... > body.json`)".to_owned(),
                ],
            };
        }
        let candidates = reformat::reserializations(body);
        if let Some(candidate) = candidates.iter().find(|c| matches(&c.bytes)) {
            return Verdict {
                valid: false,
                headline: "the body was altered after signing: it is re-serialized JSON".to_owned(),
                lines: vec![
                    format!(
                        "the signature matches the {} form of this JSON, not these bytes",
                        candidate.label
                    ),
                    "did your proxy or framework parse and re-serialize it? Pass the raw request bytes to \
                     /api/webhooks/... unchanged (no JSON body parser, pretty-printer or body rewriting in front \
                     of Tollgate)"
                        .to_owned(),
                ],
            };
        }
        let g = guide(self.provider);
        let tried: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        let mut lines = vec![format!("tried {} secret(s): {}", tried.len(), tried.join(", "))];
        let mut secret = format!(
            "either the secret is wrong: compare providers.{}.webhook_secret with {}",
            self.provider, g.secret_where
        );
        if self.provider == Provider::Whop {
            secret.push_str(" (the whole ws_… string is the key)");
        }
        secret.push_str(&format!(
            "; after a rotation the old secret keeps working only while it is listed in \
             providers.{}.previous_webhook_secrets",
            self.provider
        ));
        lines.push(secret);
        let mut altered = "or the body differs from what was signed; did your proxy or framework parse and \
                           re-serialize it?"
            .to_owned();
        if body.is_empty() {
            altered.push_str(" (the body file is empty)");
        } else if candidates.is_empty() {
            altered.push_str(" (the body is not JSON, so it cannot be what the provider sent unchanged)");
        } else {
            altered.push_str(
                " Compact, spaced, indented and key-sorted re-serializations of this JSON were tried and none \
                 matches, so a wrong secret is more likely",
            );
        }
        lines.push(altered);
        Verdict {
            valid: false,
            headline: "no configured secret matches the signature".to_owned(),
            lines,
        }
    }
}

fn malformed_header(header: Header, headers: &Headers) -> Verdict {
    let expected = match header {
        Header::WebhookId => "a non-empty id such as msg_...",
        Header::WebhookTimestamp | Header::HexHmacTimestamp(_) => {
            "Unix seconds, digits only, e.g. 1727606400"
        }
        Header::WebhookSignature => "space-separated `v1,<base64>` entries",
        Header::WhopSignature => "`t=<unix seconds>,v1=<64 hex digits>`",
        Header::HexHmacSignature(_) => "64 lower-case hex digits",
        _ => "the provider's documented format",
    };
    let value = find(headers, header.name()).unwrap_or_default();
    let found = match header {
        // Signatures are not printed; their length is enough to spot truncation.
        Header::WebhookSignature | Header::WhopSignature | Header::HexHmacSignature(_) => {
            format!("a value of {} characters", value.chars().count())
        }
        _ => format!("{value:?}"),
    };
    Verdict {
        valid: false,
        headline: format!("malformed header `{header}`"),
        lines: vec![
            format!("expected {expected}; found {found}"),
            "check that the value was copied whole, without quotes or line breaks".to_owned(),
        ],
    }
}

fn find<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The signed timestamp, from whichever scheme's header is present: the first registered provider whose scheme
/// carries a timestamp in these headers reads it.
fn signed_timestamp(headers: &Headers) -> Option<i64> {
    Registry::shared()
        .adapters()
        .find_map(|adapter| adapter.signed_timestamp(headers))
        .and_then(Result::ok)
}

/// Which provider's signature headers these are, when that is clear: a provider that recognizes them as its own
/// (the last registered one, should several).
fn looks_like(headers: &Headers) -> Option<Provider> {
    Registry::shared()
        .adapters()
        .filter(|adapter| adapter.recognizes(headers))
        .last()
        .map(|adapter| adapter.provider())
}

fn event_type(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["type", "event_type", "action"]
        .into_iter()
        .find_map(|key| value.get(key)?.as_str().map(str::to_owned))
}

fn time(ts: i64) -> String {
    DateTime::<Utc>::from_timestamp(ts, 0).map_or_else(
        || format!("{ts} (Unix seconds)"),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// `3m 12s ago`, `1h 5m in the future`, `just now`.
fn relative(ts: i64, now: i64) -> String {
    let diff = now.saturating_sub(ts);
    if diff == 0 {
        return "just now".to_owned();
    }
    let span = human(diff.unsigned_abs());
    if diff > 0 {
        format!("{span} ago")
    } else {
        format!("{span} in the future")
    }
}

/// The two largest units of a span of seconds: `2d 3h`, `5m 7s`, `42s`.
fn human(secs: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, unit) in units {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(human(42), "42s");
        assert_eq!(human(307), "5m 7s");
        assert_eq!(human(2 * 86_400 + 3 * 3_600 + 59), "2d 3h");
        assert_eq!(relative(100, 100), "just now");
        assert_eq!(relative(100, 400), "5m ago");
        assert_eq!(relative(4_000, 400), "1h in the future");
    }

    #[test]
    fn the_signed_time_comes_from_any_scheme() {
        let h = |n: &str, v: &str| vec![(n.to_owned(), v.to_owned())];
        assert_eq!(
            signed_timestamp(&h("Webhook-Timestamp", "1700000000")),
            Some(1_700_000_000)
        );
        assert_eq!(
            signed_timestamp(&h("X-Whop-Signature", "t=1700000001,v1=ab")),
            Some(1_700_000_001)
        );
        assert_eq!(signed_timestamp(&h("x", "y")), None);
        // Whatever headers a registered provider signs with, the signed time is read back from them.
        for adapter in Registry::shared().adapters() {
            let guide = adapter.guide();
            let signed = adapter
                .sign(guide.example_secret, "msg_1", 1_700_000_002, b"{}")
                .unwrap();
            let headers: Headers = signed
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect();
            assert_eq!(signed_timestamp(&headers), Some(1_700_000_002), "{}", guide.title);
        }
    }

    #[test]
    fn headers_only_one_provider_sends_name_it() {
        let h = |n: &str| vec![(n.to_owned(), "v".to_owned())];
        assert_eq!(looks_like(&h("X-Whop-Signature")), Some(Provider::Whop));
        assert_eq!(looks_like(&h("webhook-signature")), None);
        for adapter in Registry::shared().adapters() {
            let signed = adapter
                .sign(adapter.guide().example_secret, "msg_1", 1_700_000_002, b"{}")
                .unwrap();
            if let Some((name, _)) = signed.iter().find(|(name, _)| !name.starts_with("webhook-")) {
                assert_eq!(looks_like(&h(name)), Some(adapter.provider()), "{name}");
            }
        }
    }
}
