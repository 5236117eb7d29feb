//! What a successful verification returns.

/// The signature scheme that authenticated a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Standard Webhooks with a `whsec_` base64 secret (Dodo Payments).
    StandardWebhooks,
    /// Whop's current webhooks: the Standard Webhooks wire format keyed with the raw `ws_…` secret bytes.
    WhopCurrent,
    /// Whop's legacy `X-Whop-Signature: t=…,v1=…` webhooks.
    WhopLegacy,
    /// The hex HMAC scheme: a hex signature over `<timestamp>.<body>`, the timestamp in a header of its own.
    HexHmac,
}

/// An authenticated delivery: what the caller needs next, borrowed from the headers it was verified from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verified<'h> {
    /// Which scheme matched.
    pub scheme: Scheme,
    /// The `webhook-id` header (the idempotency key) for [`Scheme::StandardWebhooks`] and [`Scheme::WhopCurrent`];
    /// `None` for the schemes that have no such header.
    pub webhook_id: Option<&'h str>,
    /// The signed timestamp, in Unix seconds.
    pub timestamp: i64,
    /// Position (0-based) of the secret that matched, in the list given at construction: shows when an old secret
    /// is still in use during a rotation.
    pub secret_index: usize,
}
