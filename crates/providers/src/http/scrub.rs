//! What a provider's error body may put in the log: at most 512 bytes, with the request's secret (a license key) and
//! any e-mail address replaced.
//!
//! A provider may echo the key back changed: lower- or upper-cased, percent-encoded as a path segment, or
//! form-encoded (`+` for a space). Each of those forms is matched without regard to ASCII case (so `%2F` and `%2f`
//! match alike) and replaced by `[redacted]`. E-mail addresses become `[email]`.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// The most of an error body that reaches the log.
const MAX_LOGGED: usize = 512;

/// An error body fit for the log.
pub(crate) fn scrub(body: &[u8], secret: Option<&str>) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        for form in secret_forms(secret) {
            text = replace_ignoring_ascii_case(&text, &form, "[redacted]");
        }
    }
    let mut text = redact_emails(&text);
    if text.len() > MAX_LOGGED {
        let mut cut = MAX_LOGGED;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// The secret as sent, and as a provider might echo it: percent-encoded (every byte but ASCII letters and digits,
/// which covers the path-segment and query forms), and form-encoded (a space as `+`). Longest first, so a longer
/// form is replaced before a shorter one inside it.
fn secret_forms(secret: &str) -> Vec<String> {
    let encoded = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let form = encoded.replace("%20", "+");
    let mut forms = vec![secret.to_owned(), encoded, form];
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    forms
}

/// Replace every occurrence of `needle` in `haystack`, comparing ASCII letters without regard to case (the offsets
/// of an ASCII-lowercased copy are those of the original, so non-ASCII text is matched exactly).
fn replace_ignoring_ascii_case(haystack: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return haystack.to_owned();
    }
    let lower_haystack = haystack.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(haystack.len());
    let mut last = 0;
    for (start, _) in lower_haystack.match_indices(&lower_needle) {
        if start < last {
            continue;
        }
        out.push_str(&haystack[last..start]);
        out.push_str(with);
        last = start + needle.len();
    }
    out.push_str(&haystack[last..]);
    out
}

fn is_local_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

/// Replace `local@domain.tld` with `[email]`: a non-empty local part, and a domain with a dot inside it.
fn redact_emails(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        let local_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_local_part(*c))
            .last()
            .map(|(i, _)| i);
        let after = &rest[at + 1..];
        let domain_len = after
            .char_indices()
            .take_while(|(_, c)| is_domain_part(*c))
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        let domain = after[..domain_len].trim_end_matches(['.', '-']);
        let is_email = local_start.is_some()
            && domain.contains('.')
            && !domain.starts_with('.')
            && domain.rsplit('.').next().is_some_and(|tld| tld.len() >= 2);
        match (is_email, local_start) {
            (true, Some(start)) => {
                out.push_str(&before[..start]);
                out.push_str("[email]");
                rest = &after[domain.len()..];
            }
            _ => {
                out.push_str(&rest[..=at]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_removed_in_every_echoed_form() {
        let secret = "KEY+ECHO?SECRET=0002 x";
        let body = format!(
            "exact {secret} | lower {} | upper {} | path {} | form {} | lower-hex {}",
            secret.to_lowercase(),
            secret.to_uppercase(),
            "KEY%2BECHO%3FSECRET%3D0002%20x",
            "KEY%2BECHO%3FSECRET%3D0002+x",
            "key%2becho%3fsecret%3d0002%20x",
        );
        let scrubbed = scrub(body.as_bytes(), Some(secret));
        assert_eq!(
            scrubbed,
            "exact [redacted] | lower [redacted] | upper [redacted] | path [redacted] | form [redacted] | \
             lower-hex [redacted]"
        );
    }

    #[test]
    fn emails_are_redacted_and_other_at_signs_kept() {
        let body = "mail bob.customer+x@example.co.uk, handle @whop, a@b, user@localhost; end";
        assert_eq!(
            scrub(body.as_bytes(), None),
            "mail [email], handle @whop, a@b, user@localhost; end"
        );
    }

    #[test]
    fn long_bodies_are_cut_on_a_char_boundary() {
        let long = "é".repeat(400);
        let scrubbed = scrub(long.as_bytes(), None);
        assert!(scrubbed.len() <= MAX_LOGGED + '…'.len_utf8());
        assert!(scrubbed.ends_with('…'));
    }

    #[test]
    fn secret_and_plain_text_without_matches_pass_through() {
        assert_eq!(scrub(b"nothing here", Some("ABC-123")), "nothing here");
        assert_eq!(scrub(b"key ABC-123 bad", Some("ABC-123")), "key [redacted] bad");
    }
}
