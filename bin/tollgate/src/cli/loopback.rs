//! Which provider URLs stay on this machine. `tollgate simulate` and `tollgate dev` only ever let the server call a
//! provider API at a loopback address (a fake), never a live provider.

use std::net::{IpAddr, SocketAddr};

use tollgate_policy::Provider;

use crate::app::licensing::provider_apis;
use crate::settings::Settings;
use crate::startup::StartupError;

/// True when `url` (`http://HOST:PORT` or `https://...`) names a loopback IP literal: `127.0.0.0/8` or `[::1]`. A
/// host name, even `localhost`, is not accepted: what it resolves to is not known here.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url.trim()) else {
        return false;
    };
    // The parser writes an IPv4 host in its canonical dotted form and an IPv6 one in brackets.
    let host = parsed.host_str().unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse::<IpAddr>().is_ok_and(is_loopback_ip)
}

/// True when `addr` is a loopback address.
pub fn is_loopback_addr(addr: &SocketAddr) -> bool {
    is_loopback_ip(addr.ip())
}

fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// The providers whose API the server built from `settings` would call at a non-loopback `api_base`, with that
/// base: each provider it builds an API for (`provider_apis` decides, exactly as `serve` does).
pub fn live_provider_apis(settings: &Settings) -> Result<Vec<(Provider, String)>, StartupError> {
    let apis = provider_apis(settings)?;
    Ok(apis
        .providers()
        .map(|provider| (provider, settings.providers.get(provider).api_base.clone()))
        .filter(|(_, base)| !is_loopback_url(base))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_ip_literals_count() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "https://[::1]:443",
            "http://[::ffff:127.0.0.1]:9",
            " http://127.0.0.1:1/ ",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://api.whop.com",
            "https://live.dodopayments.com",
            "http://localhost:8080",
            "http://10.0.0.1:80",
            "http://0.0.0.0:80",
            "http://[::]:80",
            "http://127.0.0.1.example.com",
            "not a url",
            "",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn a_provider_without_a_client_is_never_called() {
        let mut settings = Settings::defaults().unwrap();
        // Nothing configured: no client is built, so nothing can be called.
        assert_eq!(live_provider_apis(&settings).unwrap(), vec![]);
        // A Dodo webhook secret builds the Dodo client (its license endpoints need no key): live by default.
        settings.providers.dodo.webhook_secret =
            crate::settings::Secret::new("whsec_bG9jYWwgdGVzdCBzZWNyZXQ=");
        assert_eq!(
            live_provider_apis(&settings).unwrap(),
            vec![(Provider::Dodo, "https://live.dodopayments.com".to_owned())]
        );
        settings.providers.dodo.api_base = "http://127.0.0.1:9".to_owned();
        assert_eq!(live_provider_apis(&settings).unwrap(), vec![]);
        // A Whop webhook secret alone builds no Whop client; an API key does.
        settings.providers.whop.webhook_secret = crate::settings::Secret::new("ws_x");
        assert_eq!(live_provider_apis(&settings).unwrap(), vec![]);
        settings.providers.whop.api_key = crate::settings::Secret::new("whop_key");
        assert_eq!(
            live_provider_apis(&settings).unwrap(),
            vec![(Provider::Whop, "https://api.whop.com".to_owned())]
        );
    }
}
