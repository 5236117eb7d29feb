//! The payment providers Tollgate speaks to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A payment provider whose webhooks and APIs Tollgate understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Whop,
    Dodo,
    Aghanim,
}

impl Provider {
    /// Every provider, in a fixed order.
    pub const ALL: [Provider; 3] = [Provider::Whop, Provider::Dodo, Provider::Aghanim];

    /// The lower-case name used in URLs, configuration and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Whop => "whop",
            Provider::Dodo => "dodo",
            Provider::Aghanim => "aghanim",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a provider name Tollgate does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown provider `{}`: expected one of whop, dodo, aghanim",
            self.0
        )
    }
}

impl std::error::Error for UnknownProvider {}

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "whop" => Ok(Provider::Whop),
            "dodo" => Ok(Provider::Dodo),
            "aghanim" => Ok(Provider::Aghanim),
            _ => Err(UnknownProvider(s.to_owned())),
        }
    }
}
