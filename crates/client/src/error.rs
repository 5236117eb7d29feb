//! The user-safe states an app shows. Each has a message a person understands and an action; raw HTTP, JSON and
//! I/O errors never reach here (they are logged with `log` where they happen).

use std::fmt;

use chrono::{DateTime, Utc};

/// Why a license operation did not give access. Show [`ClientError::message`] and offer [`ClientError::action`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The key does not exist (or is not a key at all).
    InvalidLicense,
    /// Node-locked license bound to another computer (server `DEVICE_MISMATCH`).
    InUseOnAnotherDevice,
    /// Every device slot is taken (server `DEVICE_LIMIT_REACHED`).
    DeviceLimitReached,
    /// Expired, revoked, canceled or refunded (server `LICENSE_INACTIVE`).
    LicenseInactive { purchase_url: Option<String> },
    /// A recoverable payment hold (server `PAYMENT_ISSUE`).
    PaymentIssue { purchase_url: Option<String> },
    /// Too many attempts (server `RATE_LIMITED`, `Retry-After` in seconds when given).
    RateLimited { retry_after_secs: Option<u64> },
    /// No answer from the server (connection refused, DNS, TLS, timeout).
    ServerUnreachable {
        keep_working_until: Option<DateTime<Utc>>,
    },
    /// The server answered that it (or the payment provider behind it) is unavailable for now.
    ServiceUnavailable {
        keep_working_until: Option<DateTime<Utc>>,
    },
    /// Offline past the lease's `exp`.
    OfflineGraceExpired { expired_at: DateTime<Utc> },
    /// The system clock is earlier than a server time already seen, beyond the tolerance.
    ClockRollback,
    /// This computer holds no activation, or the server no longer knows this device (`DEVICE_NOT_ACTIVATED`).
    NotActivated,
    /// Self-service deactivation is off for this license (`TRANSFER_NOT_ALLOWED`).
    TransferNotAllowed,
    /// Deactivated too recently (`TRANSFER_COOLDOWN`).
    TransferCooldown { retry_after_secs: Option<u64> },
    /// The saved state does not verify (tampered, foreign key, another machine's file) or cannot be read.
    StateCorrupt,
    /// The server's answer could not be used (unknown code, bad JSON, a lease that does not verify).
    UnexpectedResponse,
    /// The state file could not be written or read (disk full, permissions).
    Storage,
    /// This machine's id could not be read.
    DeviceIdUnavailable,
    /// The app passed a server URL or options the client cannot use.
    Misconfigured,
}

/// What the app should offer the person next.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    EnterKey,
    DeactivateElsewhere,
    Renew { url: Option<String> },
    UpdatePayment { url: Option<String> },
    RetryLater { after_secs: Option<u64> },
    CheckConnection,
    FixClock,
    ContactSupport,
}

/// How dates are written in messages (UTC: the client has no time zone database).
pub(crate) fn human_date(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y, %H:%M UTC").to_string()
}

fn human_wait(secs: u64) -> String {
    match secs {
        1 => "1 second".into(),
        0..=90 => format!("{secs} seconds"),
        91..=5400 => format!("{} minutes", secs.div_ceil(60)),
        _ => format!("{} hours", secs.div_ceil(3600)),
    }
}

impl ClientError {
    /// Every value [`ClientError::code`] can return (issue 22's list, shared by every Tollgate client).
    pub const CODES: [&'static str; 16] = [
        "INVALID_LICENSE",
        "IN_USE_ON_ANOTHER_DEVICE",
        "DEVICE_LIMIT_REACHED",
        "LICENSE_INACTIVE",
        "PAYMENT_ISSUE",
        "NOT_ACTIVATED",
        "RATE_LIMITED",
        "TRANSFER_NOT_ALLOWED",
        "TRANSFER_COOLDOWN",
        "SERVICE_UNAVAILABLE",
        "SERVER_UNREACHABLE",
        "OFFLINE_GRACE_EXPIRED",
        "CLOCK_ROLLBACK",
        "STATE_CORRUPT",
        "UNEXPECTED_RESPONSE",
        "MISCONFIGURED",
    ];

    /// A stable identifier for logs, analytics and `match`-free handling (never shown as the message): one of
    /// [`ClientError::CODES`], the same strings as the JavaScript and Python SDKs' `code`. `Storage` and
    /// `DeviceIdUnavailable` (the app's environment cannot hold a license) share `MISCONFIGURED` and keep their own
    /// message.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::InvalidLicense => "INVALID_LICENSE",
            ClientError::InUseOnAnotherDevice => "IN_USE_ON_ANOTHER_DEVICE",
            ClientError::DeviceLimitReached => "DEVICE_LIMIT_REACHED",
            ClientError::LicenseInactive { .. } => "LICENSE_INACTIVE",
            ClientError::PaymentIssue { .. } => "PAYMENT_ISSUE",
            ClientError::RateLimited { .. } => "RATE_LIMITED",
            ClientError::ServerUnreachable { .. } => "SERVER_UNREACHABLE",
            ClientError::ServiceUnavailable { .. } => "SERVICE_UNAVAILABLE",
            ClientError::OfflineGraceExpired { .. } => "OFFLINE_GRACE_EXPIRED",
            ClientError::ClockRollback => "CLOCK_ROLLBACK",
            ClientError::NotActivated => "NOT_ACTIVATED",
            ClientError::TransferNotAllowed => "TRANSFER_NOT_ALLOWED",
            ClientError::TransferCooldown { .. } => "TRANSFER_COOLDOWN",
            ClientError::StateCorrupt => "STATE_CORRUPT",
            ClientError::UnexpectedResponse => "UNEXPECTED_RESPONSE",
            ClientError::Storage | ClientError::DeviceIdUnavailable | ClientError::Misconfigured => {
                "MISCONFIGURED"
            }
        }
    }

    /// A sentence or two a person understands, with what to do.
    pub fn message(&self) -> String {
        match self {
            ClientError::InvalidLicense => {
                "This license key is not valid. Check that you entered it exactly as in your purchase email.".into()
            }
            ClientError::InUseOnAnotherDevice => {
                "This license key is already in use on another computer. Deactivate it there, or contact support."
                    .into()
            }
            ClientError::DeviceLimitReached => "This license key is already activated on as many computers as it \
                 allows. Deactivate it on one of them, or contact support."
                .into(),
            ClientError::LicenseInactive { purchase_url: Some(url) } => {
                format!("Your license is no longer active. Renew at {url}.")
            }
            ClientError::LicenseInactive { purchase_url: None } => {
                "Your license is no longer active. Renew it from your account, or contact support.".into()
            }
            ClientError::PaymentIssue { purchase_url: Some(url) } => format!(
                "There is a problem with your latest payment. Update your payment method at {url}, then try again."
            ),
            ClientError::PaymentIssue { purchase_url: None } => "There is a problem with your latest payment. \
                 Update your payment method with the store, then try again."
                .into(),
            ClientError::RateLimited { retry_after_secs: Some(secs) } => {
                format!("Too many attempts. Wait {} and try again.", human_wait(*secs))
            }
            ClientError::RateLimited { retry_after_secs: None } => {
                "Too many attempts. Wait a few minutes and try again.".into()
            }
            ClientError::ServerUnreachable { keep_working_until: Some(until) } => format!(
                "The license server could not be reached. Check your connection; you can keep working until {}.",
                human_date(*until)
            ),
            ClientError::ServerUnreachable { keep_working_until: None } => {
                "The license server could not be reached. Check your connection and try again.".into()
            }
            ClientError::ServiceUnavailable { keep_working_until: Some(until) } => format!(
                "The license service is temporarily unavailable. Try again in a few minutes; you can keep working \
                 until {}.",
                human_date(*until)
            ),
            ClientError::ServiceUnavailable { keep_working_until: None } => {
                "The license service is temporarily unavailable. Try again in a few minutes.".into()
            }
            ClientError::OfflineGraceExpired { expired_at } => format!(
                "Your license needed to be checked online by {}. Connect to the internet so it can be checked.",
                human_date(*expired_at)
            ),
            ClientError::ClockRollback => "This computer's clock is set earlier than when your license was last \
                 checked. Set the correct date and time, or connect to the internet so it can be checked again."
                .into(),
            ClientError::NotActivated => {
                "This computer is not activated. Enter your license key to activate it.".into()
            }
            ClientError::TransferNotAllowed => {
                "This license cannot be moved to another computer from the app. Contact support to move it.".into()
            }
            ClientError::TransferCooldown { retry_after_secs: Some(secs) } => {
                format!("This license was moved recently. You can move it again in {}.", human_wait(*secs))
            }
            ClientError::TransferCooldown { retry_after_secs: None } => {
                "This license was moved recently. Try again later, or contact support.".into()
            }
            ClientError::StateCorrupt => "The license information saved on this computer is damaged or was \
                 changed. Enter your license key to activate again."
                .into(),
            ClientError::UnexpectedResponse => "The license server sent an answer this app could not use. Make \
                 sure the app is up to date, or contact support."
                .into(),
            ClientError::Storage => "This app could not save its license information. Check that your disk is \
                 not full and that your user folder is writable."
                .into(),
            ClientError::DeviceIdUnavailable => {
                "This computer's id could not be read, so a license cannot be bound to it. Contact support.".into()
            }
            ClientError::Misconfigured => {
                "This app is not set up correctly to check licenses. Contact support.".into()
            }
        }
    }

    /// What to offer next.
    pub fn action(&self) -> Action {
        match self {
            ClientError::InvalidLicense | ClientError::NotActivated | ClientError::StateCorrupt => {
                Action::EnterKey
            }
            ClientError::InUseOnAnotherDevice | ClientError::DeviceLimitReached => {
                Action::DeactivateElsewhere
            }
            ClientError::LicenseInactive { purchase_url } => Action::Renew {
                url: purchase_url.clone(),
            },
            ClientError::PaymentIssue { purchase_url } => Action::UpdatePayment {
                url: purchase_url.clone(),
            },
            ClientError::RateLimited { retry_after_secs }
            | ClientError::TransferCooldown { retry_after_secs } => Action::RetryLater {
                after_secs: *retry_after_secs,
            },
            ClientError::ServiceUnavailable { .. } => Action::RetryLater { after_secs: None },
            ClientError::ServerUnreachable { .. } | ClientError::OfflineGraceExpired { .. } => {
                Action::CheckConnection
            }
            ClientError::ClockRollback => Action::FixClock,
            ClientError::TransferNotAllowed
            | ClientError::UnexpectedResponse
            | ClientError::Storage
            | ClientError::DeviceIdUnavailable
            | ClientError::Misconfigured => Action::ContactSupport,
        }
    }

    /// Whether this is a transient failure to reach a usable server (offline grace applies), as opposed to the
    /// server's verdict on the license.
    pub fn is_connectivity(&self) -> bool {
        matches!(
            self,
            ClientError::ServerUnreachable { .. }
                | ClientError::ServiceUnavailable { .. }
                | ClientError::RateLimited { .. }
                | ClientError::UnexpectedResponse
        )
    }
}

impl Action {
    /// A stable name for the action, the same in every Tollgate client: `ENTER_KEY`, `DEACTIVATE_ELSEWHERE`,
    /// `RENEW`, `UPDATE_PAYMENT`, `RETRY_LATER`, `CHECK_CONNECTION`, `FIX_CLOCK`, `CONTACT_SUPPORT`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::EnterKey => "ENTER_KEY",
            Action::DeactivateElsewhere => "DEACTIVATE_ELSEWHERE",
            Action::Renew { .. } => "RENEW",
            Action::UpdatePayment { .. } => "UPDATE_PAYMENT",
            Action::RetryLater { .. } => "RETRY_LATER",
            Action::CheckConnection => "CHECK_CONNECTION",
            Action::FixClock => "FIX_CLOCK",
            Action::ContactSupport => "CONTACT_SUPPORT",
        }
    }

    /// A short label for a button or a prompt.
    pub fn label(&self) -> String {
        match self {
            Action::EnterKey => "Enter license key".into(),
            Action::DeactivateElsewhere => "Deactivate on the other computer".into(),
            Action::Renew { url: Some(url) } => format!("Renew at {url}"),
            Action::Renew { url: None } => "Renew your license".into(),
            Action::UpdatePayment { url: Some(url) } => format!("Update payment at {url}"),
            Action::UpdatePayment { url: None } => "Update your payment method".into(),
            Action::RetryLater {
                after_secs: Some(secs),
            } => format!("Try again in {}", human_wait(*secs)),
            Action::RetryLater { after_secs: None } => "Try again later".into(),
            Action::CheckConnection => "Check your internet connection".into(),
            Action::FixClock => "Set the correct date and time".into(),
            Action::ContactSupport => "Contact support".into(),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ClientError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_url_and_the_date() {
        let until = DateTime::from_timestamp(1_778_594_400, 0).unwrap(); // 2026-05-12 14:00:00 UTC
        assert_eq!(
            ClientError::ServerUnreachable {
                keep_working_until: Some(until)
            }
            .message(),
            "The license server could not be reached. Check your connection; you can keep working until \
             12 May 2026, 14:00 UTC."
        );
        assert_eq!(
            ClientError::LicenseInactive {
                purchase_url: Some("https://shop.example/renew".into())
            }
            .message(),
            "Your license is no longer active. Renew at https://shop.example/renew."
        );
        assert_eq!(
            ClientError::InUseOnAnotherDevice.message(),
            "This license key is already in use on another computer. Deactivate it there, or contact support."
        );
        assert_eq!(
            ClientError::RateLimited {
                retry_after_secs: Some(120)
            }
            .message(),
            "Too many attempts. Wait 2 minutes and try again."
        );
        assert_eq!(
            ClientError::RateLimited {
                retry_after_secs: Some(1)
            }
            .message(),
            "Too many attempts. Wait 1 second and try again."
        );
        assert_eq!(
            ClientError::LicenseInactive {
                purchase_url: Some("u".into())
            }
            .action(),
            Action::Renew {
                url: Some("u".into())
            }
        );
        assert_eq!(
            ClientError::ClockRollback.action().label(),
            "Set the correct date and time"
        );
        assert_eq!(
            ClientError::RateLimited {
                retry_after_secs: Some(1)
            }
            .message(),
            "Too many attempts. Wait 1 second and try again."
        );
    }

    /// Every variant, once: `code()` is exactly one of issue 22's strings, and every string is reachable.
    #[test]
    fn codes_are_exactly_the_shared_list() {
        let all = [
            ClientError::InvalidLicense,
            ClientError::InUseOnAnotherDevice,
            ClientError::DeviceLimitReached,
            ClientError::LicenseInactive { purchase_url: None },
            ClientError::PaymentIssue { purchase_url: None },
            ClientError::NotActivated,
            ClientError::RateLimited {
                retry_after_secs: None,
            },
            ClientError::TransferNotAllowed,
            ClientError::TransferCooldown {
                retry_after_secs: None,
            },
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
            ClientError::ServerUnreachable {
                keep_working_until: None,
            },
            ClientError::OfflineGraceExpired {
                expired_at: DateTime::UNIX_EPOCH,
            },
            ClientError::ClockRollback,
            ClientError::StateCorrupt,
            ClientError::UnexpectedResponse,
            ClientError::Misconfigured,
            ClientError::Storage,
            ClientError::DeviceIdUnavailable,
        ];
        let codes: Vec<&str> = all.iter().map(ClientError::code).collect();
        assert_eq!(&codes[..16], &ClientError::CODES[..]);
        assert_eq!(&codes[16..], &["MISCONFIGURED", "MISCONFIGURED"]);
        assert_eq!(ClientError::Storage.action().kind(), "CONTACT_SUPPORT");
        assert_eq!(
            ClientError::TransferCooldown {
                retry_after_secs: Some(60)
            }
            .action()
            .kind(),
            "RETRY_LATER"
        );
    }
}
