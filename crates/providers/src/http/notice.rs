//! Early warning of a provider retiring an API: an answer that carries a `Deprecation` or `Sunset` header (RFC 9745,
//! RFC 8594) is logged at WARN, once per provider route per UTC day, with the successor `Link` when there is one.
//! Whop's v2 answers carried `Deprecation` for months before the routes stopped working.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::HeaderMap;

/// What a provider said about the route it just answered on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderNotice {
    /// The `Deprecation` header as sent (`@1791417600`, `true`, or a date).
    pub deprecation: Option<String>,
    /// The `Sunset` header as sent (an HTTP date).
    pub sunset: Option<String>,
    /// The target of a `Link: <...>; rel="successor-version"` (or `rel="deprecation"`), if any.
    pub link: Option<String>,
}

impl ProviderNotice {
    /// The notice in `headers`, if the answer carries `Deprecation` or `Sunset`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<ProviderNotice> {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().chars().take(200).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        let deprecation = text("deprecation");
        let sunset = text("sunset");
        if deprecation.is_none() && sunset.is_none() {
            return None;
        }
        let link = headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find(|part| part.contains("successor-version") || part.contains("rel=\"deprecation\""))
            .and_then(|part| {
                let start = part.find('<')? + 1;
                let end = part[start..].find('>')? + start;
                Some(part[start..end].chars().take(300).collect())
            });
        Some(ProviderNotice {
            deprecation,
            sunset,
            link,
        })
    }

    /// One line for a person: what the provider announced.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(deprecation) = &self.deprecation {
            parts.push(format!("Deprecation: {deprecation}"));
        }
        if let Some(sunset) = &self.sunset {
            parts.push(format!("Sunset: {sunset}"));
        }
        if let Some(link) = &self.link {
            parts.push(format!("successor: {link}"));
        }
        parts.join("; ")
    }
}

/// The routes already warned about today.
#[derive(Debug, Default)]
pub(crate) struct NoticeLog {
    warned: Mutex<HashMap<&'static str, i64>>,
}

impl NoticeLog {
    /// True the first time `route` is seen on `day` (days since the Unix epoch): the caller logs it then.
    pub(crate) fn first_today(&self, route: &'static str, day: i64) -> bool {
        let mut warned = self
            .warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match warned.insert(route, day) {
            Some(previous) => previous != day,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn reads_deprecation_sunset_and_the_successor_link() {
        let mut headers = HeaderMap::new();
        headers.insert("deprecation", HeaderValue::from_static("@1791417600"));
        headers.insert(
            "sunset",
            HeaderValue::from_static("Fri, 13 Nov 2026 00:00:00 GMT"),
        );
        headers.insert(
            "link",
            HeaderValue::from_static(
                "<https://docs.example/x>; rel=\"help\", <https://api.whop.com/api/v1/memberships/mem_1>; rel=\"successor-version\"",
            ),
        );
        let notice = ProviderNotice::from_headers(&headers).unwrap();
        assert_eq!(notice.deprecation.as_deref(), Some("@1791417600"));
        assert_eq!(notice.sunset.as_deref(), Some("Fri, 13 Nov 2026 00:00:00 GMT"));
        assert_eq!(
            notice.link.as_deref(),
            Some("https://api.whop.com/api/v1/memberships/mem_1")
        );
        assert_eq!(
            notice.describe(),
            "Deprecation: @1791417600; Sunset: Fri, 13 Nov 2026 00:00:00 GMT; successor: \
             https://api.whop.com/api/v1/memberships/mem_1"
        );
        assert_eq!(ProviderNotice::from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn warns_once_per_route_per_day() {
        let log = NoticeLog::default();
        assert!(log.first_today("/a", 10));
        assert!(!log.first_today("/a", 10));
        assert!(log.first_today("/b", 10));
        assert!(log.first_today("/a", 11));
        assert!(!log.first_today("/a", 11));
    }
}
