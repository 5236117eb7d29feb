//! The verifier's integration suite: one binary, one module per signature scheme.

mod hex_hmac;
mod roundtrip;
mod standard_webhooks;
mod whop;

use tollgate_verify::HexHmacHeaders;

/// The hex HMAC scheme's headers as Aghanim names them: the provider the suite's vectors come from.
pub(crate) const AGHANIM: HexHmacHeaders = HexHmacHeaders {
    signature: "x-aghanim-signature",
    timestamp: "x-aghanim-signature-timestamp",
};
