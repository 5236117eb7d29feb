//! Rate limits on the license endpoints, per client IP and per license key (`governor`'s GCRA, in memory, per
//! instance).
//!
//! - **Activation and deactivation** share one allowance: every attempt counts, checked before any work.
//! - **Validation** counts only FAILED attempts (a denial or a bad request; not an outage): many honest users share
//!   one IP behind a NAT, and an app launch (a successful validation) must never be limited. A failure that finds
//!   the allowance spent is answered `429 RATE_LIMITED` instead of its code, so the limit hides the answer a
//!   key-guesser wants; a success is always answered.
//!
//! The client IP is the peer address, or the last `X-Forwarded-For` entry when `trust_forwarded_for` is set (the
//! one a single trusted proxy appends; earlier entries are the client's to forge). IPv6 addresses are counted per
//! /64, the block one host usually holds. License keys are counted by the store's keyed hash, never the raw key.
//!
//! Memory stays bounded: [`RateLimits::retain_recent`] (run every minute by `serve`) drops every key whose state
//! is back to a full allowance, so only the clients of the last hour or so are held.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota};
use tollgate_service::license::MAX_LICENSE_KEY_LEN;
use tollgate_store::{LicenseKeyHash, Store};

use crate::http::error::{ApiError, ErrorCode};
use crate::settings::RateLimitSettings;

/// How often `serve` drops limiter state that is back to a full allowance.
pub const RETAIN_EVERY: Duration = Duration::from_secs(60);

/// One kind of counted attempt: one limiter per client IP and one per license key.
struct Pair {
    ip: DefaultKeyedRateLimiter<IpAddr>,
    key: DefaultKeyedRateLimiter<LicenseKeyHash>,
}

impl Pair {
    fn new(ip: Quota, key: Quota) -> Pair {
        Pair {
            ip: DefaultKeyedRateLimiter::keyed(ip),
            key: DefaultKeyedRateLimiter::keyed(key),
        }
    }

    /// Count one attempt against the IP, then against the key. `Err`: the limit that was hit.
    fn check(&self, ip: IpAddr, key: Option<&LicenseKeyHash>) -> Result<(), Limited> {
        self.ip
            .check_key(&ip)
            .map_err(|n| Limited::of(&self.ip, "ip", &n))?;
        if let Some(key) = key {
            self.key
                .check_key(key)
                .map_err(|n| Limited::of(&self.key, "license_key", &n))?;
        }
        Ok(())
    }

    fn retain_recent(&self) {
        self.ip.retain_recent();
        self.ip.shrink_to_fit();
        self.key.retain_recent();
        self.key.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.ip.len() + self.key.len()
    }
}

/// A refused attempt: which limit, and when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// `ip` or `license_key`.
    pub limit: &'static str,
    /// Whole seconds until one more attempt is allowed (at least 1).
    pub retry_after_secs: u64,
}

impl Limited {
    fn of<K: std::hash::Hash + Eq + Clone>(
        limiter: &DefaultKeyedRateLimiter<K>,
        limit: &'static str,
        not_until: &NotUntil<<DefaultClock as governor::clock::Clock>::Instant>,
    ) -> Limited {
        let wait = not_until.wait_time_from(limiter.clock().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Limited {
            limit,
            retry_after_secs: secs.max(1),
        }
    }

    /// `429 RATE_LIMITED` with `Retry-After`.
    pub fn into_error(self) -> ApiError {
        ApiError::of(
            ErrorCode::RateLimited,
            format!(
                "Too many license attempts from this network or for this license key. Try again in {} seconds.",
                self.retry_after_secs
            ),
        )
        .with_cause(format!("{} rate limit", self.limit))
        .with_retry_after(self.retry_after_secs)
    }
}

/// The limits of one server. `None` inside: limits are off (`rate_limit.enabled = false`).
pub struct RateLimits {
    limits: Option<Limits>,
    trust_forwarded_for: bool,
}

struct Limits {
    /// Activation and deactivation attempts.
    changes: Pair,
    /// Failed validations.
    failed_validations: Pair,
}

impl fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimits")
            .field("enabled", &self.limits.is_some())
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("tracked", &self.tracked())
            .finish()
    }
}

fn non_zero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    /// The limits `settings` describe (validated: every number is at least 1).
    pub fn new(settings: &RateLimitSettings) -> RateLimits {
        let limits = settings.enabled.then(|| {
            let ip =
                Quota::per_minute(non_zero(settings.per_ip_per_minute)).allow_burst(non_zero(settings.burst));
            let key = Quota::per_hour(non_zero(settings.per_key_per_hour));
            Limits {
                changes: Pair::new(ip, key),
                failed_validations: Pair::new(ip, key),
            }
        });
        RateLimits {
            limits,
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.limits.is_some()
    }

    /// The client IP the limits count: the peer address, or the last `X-Forwarded-For` entry when trusted; IPv6
    /// reduced to its /64. `None` when neither is known (a test request without a peer).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let forwarded = self
            .trust_forwarded_for
            .then(|| last_forwarded_for(req))
            .flatten();
        forwarded
            .or_else(|| req.peer_addr().map(|addr| addr.ip()))
            .map(counted_ip)
    }

    /// Count an activation or deactivation attempt (before doing any work).
    pub fn check_change(&self, ip: Option<IpAddr>, store: &Store, license_key: &str) -> Result<(), Limited> {
        let Some(limits) = &self.limits else {
            return Ok(());
        };
        limits
            .changes
            .check(ip_key(ip), key_hash(store, license_key).as_ref())
    }

    /// Count a failed validation. `Err`: the allowance was already spent, answer `429` instead of the failure.
    pub fn count_failed_validation(
        &self,
        ip: Option<IpAddr>,
        store: &Store,
        license_key: &str,
    ) -> Result<(), Limited> {
        let Some(limits) = &self.limits else {
            return Ok(());
        };
        limits
            .failed_validations
            .check(ip_key(ip), key_hash(store, license_key).as_ref())
    }

    /// Forget every client whose allowance is full again, and give the memory back.
    pub fn retain_recent(&self) {
        if let Some(limits) = &self.limits {
            limits.changes.retain_recent();
            limits.failed_validations.retain_recent();
        }
    }

    /// How many IPs and keys are tracked now (all limiters together).
    pub fn tracked(&self) -> usize {
        self.limits
            .as_ref()
            .map_or(0, |l| l.changes.len() + l.failed_validations.len())
    }
}

/// Requests without a known IP share one bucket.
fn ip_key(ip: Option<IpAddr>) -> IpAddr {
    ip.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
}

/// A key no provider could ever accept is refused before any lookup; it is not worth a hash or a limiter entry.
fn key_hash(store: &Store, license_key: &str) -> Option<LicenseKeyHash> {
    let key = license_key.trim();
    (!key.is_empty() && key.len() <= MAX_LICENSE_KEY_LEN).then(|| store.hash_license_key(key))
}

/// IPv4 as is (IPv4-mapped IPv6 too); IPv6 reduced to its /64 network.
pub fn counted_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The last parseable address of the last `X-Forwarded-For` header.
fn last_forwarded_for(req: &HttpRequest) -> Option<IpAddr> {
    let header = req.headers().get_all("x-forwarded-for").last()?;
    let last = header.to_str().ok()?.rsplit(',').next()?.trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn settings(trust: bool) -> RateLimitSettings {
        RateLimitSettings {
            enabled: true,
            per_ip_per_minute: 1,
            burst: 3,
            per_key_per_hour: 2,
            trust_forwarded_for: trust,
        }
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            counted_ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            counted_ip("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            counted_ip("192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_for_is_read_only_when_trusted_and_only_its_last_entry() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6, 203.0.113.9"))
            .to_http_request();
        assert_eq!(
            RateLimits::new(&settings(false)).client_ip(&req),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            RateLimits::new(&settings(true)).client_ip(&req),
            Some("203.0.113.9".parse().unwrap())
        );
        let garbage = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "not-an-ip"))
            .to_http_request();
        assert_eq!(
            RateLimits::new(&settings(true)).client_ip(&garbage),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            RateLimits::new(&settings(false)).client_ip(&TestRequest::default().to_http_request()),
            None
        );
    }

    #[test]
    fn the_burst_passes_then_the_limit_names_itself_with_a_retry_time() {
        let limits = RateLimits::new(&settings(false));
        let pair = &limits.limits.as_ref().unwrap().changes;
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            pair.check(ip, None).unwrap();
        }
        let limited = pair.check(ip, None).unwrap_err();
        assert_eq!(limited.limit, "ip");
        // One attempt a minute refills: the next is at most 60 s away.
        assert!((1..=60).contains(&limited.retry_after_secs), "{limited:?}");
        let err = limited.into_error();
        assert_eq!(err.code(), "RATE_LIMITED");

        // Another IP is untouched; a key is limited on its own.
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let key = tollgate_store::StoreKeys::generate()
            .unwrap()
            .hash_license_key("KEY-1");
        pair.check(other, Some(&key)).unwrap();
        pair.check(other, Some(&key)).unwrap();
        assert_eq!(pair.check(other, Some(&key)).unwrap_err().limit, "license_key");
        assert_eq!(limits.tracked(), 3);
    }

    #[test]
    fn disabled_limits_count_nothing() {
        let mut s = settings(false);
        s.enabled = false;
        let limits = RateLimits::new(&s);
        assert!(!limits.is_enabled());
        assert_eq!(limits.tracked(), 0);
    }
}
