//! The loopback guard: the load tool never sends a request anywhere but this machine.

use std::net::IpAddr;

use reqwest::Url;

use crate::error::BenchError;

/// Parse `target` and accept it only if its host is `127.0.0.0/8`, `::1` or `localhost`, over plain `http`.
pub fn loopback_target(target: &str) -> Result<Url, BenchError> {
    let refuse = |reason: &str| BenchError::Target {
        target: target.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(target).map_err(|e| refuse(&format!("not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(refuse(
            "only http:// is supported (the tool targets loopback, TLS adds nothing there)",
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    // `Ipv6Addr::is_loopback` is exactly `::1`; `Ipv4Addr::is_loopback` is 127.0.0.0/8.
    let loopback = match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if !loopback {
        return Err(refuse(
            "tollgate-bench only ever targets loopback: the host must be in 127.0.0.0/8, ::1 or localhost",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_hosts() {
        for target in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3:9",
            "http://[::1]:8080/",
            "http://localhost:8080",
            "http://LOCALHOST:1",
        ] {
            assert!(loopback_target(target).is_ok(), "{target}");
        }
        assert_eq!(
            loopback_target("http://[::1]:8080").unwrap().as_str(),
            "http://[::1]:8080/"
        );
    }

    #[test]
    fn refuses_anything_else() {
        for target in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "http://128.0.0.1",
            "http://[::2]:80",
            "http://localhost.example.com",
            "http://0.0.0.0:8080",
            "https://127.0.0.1:8443",
            "127.0.0.1:8080",
            "not a url",
        ] {
            let err = loopback_target(target).unwrap_err();
            assert!(matches!(err, BenchError::Target { .. }), "{target}: {err}");
        }
        let err = loopback_target("http://10.0.0.1:8080").unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing target \"http://10.0.0.1:8080\": tollgate-bench only ever targets loopback: the host must \
             be in 127.0.0.0/8, ::1 or localhost"
        );
    }
}
