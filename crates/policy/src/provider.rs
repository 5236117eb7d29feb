//! The payment providers Tollgate speaks to.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::status::{self, StatusRules};

/// A payment provider whose webhooks and APIs Tollgate understands: a key over its lower-case wire name (used in
/// URLs, configuration and storage).
///
/// The key is open: the three real providers are constants, and `tollgate-providers` registers an adapter under
/// each key ([`Provider::new`] makes another, e.g. for a test provider). Parsing and deserializing accept the real
/// providers only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Provider(&'static str);

#[expect(
    non_upper_case_globals,
    reason = "the real providers read as the enum variants they were, in patterns too"
)]
impl Provider {
    pub const Whop: Provider = Provider("whop");
    pub const Dodo: Provider = Provider("dodo");
    pub const Aghanim: Provider = Provider("aghanim");

    /// Every real provider, in a fixed order.
    pub const ALL: [Provider; 3] = [Provider::Whop, Provider::Dodo, Provider::Aghanim];

    /// The real providers' wire names as a message lists them: `whop, dodo or aghanim`.
    pub fn names_list() -> String {
        let names = Provider::ALL.map(Provider::as_str);
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

    /// A provider key by its lower-case wire name.
    pub const fn new(name: &'static str) -> Provider {
        Provider(name)
    }

    /// The lower-case name used in URLs, configuration and storage.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// How this provider's status strings classify (the tables are in `status.rs`): Whop and Dodo by their
    /// built-in tables; Aghanim's statuses are informational (providers.md §3.3); any other key knows none.
    pub(crate) fn status_rules(self) -> StatusRules {
        match self {
            Provider::Whop => StatusRules::Table(status::WHOP),
            Provider::Dodo => StatusRules::Table(status::DODO),
            Provider::Aghanim => StatusRules::Informational,
            _ => StatusRules::NoTable,
        }
    }

    /// The real provider of this wire name, if any.
    fn known(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.0 == name)
    }

    /// The fixed order: the real providers in [`Provider::ALL`] order, then any other key by name.
    fn rank(self) -> usize {
        Provider::ALL
            .iter()
            .position(|p| *p == self)
            .unwrap_or(Provider::ALL.len())
    }
}

impl Ord for Provider {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank()).then_with(|| self.0.cmp(other.0))
    }
}

impl PartialOrd for Provider {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As the enum this key once was prints it.
        let name = match *self {
            Provider::Whop => "Whop",
            Provider::Dodo => "Dodo",
            Provider::Aghanim => "Aghanim",
            Provider(other) => return write!(f, "Provider({other:?})"),
        };
        f.write_str(name)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

/// The real providers as the enum `Provider` once was, so deserializing accepts, and refuses, exactly what it did
/// (the same unknown-variant and wrong-type messages).
#[derive(Deserialize)]
#[serde(rename = "Provider", rename_all = "lowercase")]
enum Known {
    Whop,
    Dodo,
    Aghanim,
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Known::deserialize(deserializer)? {
            Known::Whop => Provider::Whop,
            Known::Dodo => Provider::Dodo,
            Known::Aghanim => Provider::Aghanim,
        })
    }
}

/// A provider is written as its lower-case wire name.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Provider {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A payment provider whose webhooks and APIs Tollgate understands.",
            ))
            .enum_values(Some(Provider::ALL.map(Provider::as_str)))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Provider {}

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
        Provider::known(s.trim().to_ascii_lowercase().as_str()).ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializing_accepts_and_refuses_as_the_enum_did() {
        #[derive(Debug, Deserialize)]
        struct Row {
            provider: Provider,
        }
        let row: Row = toml::from_str("provider = \"dodo\"").unwrap();
        assert_eq!(row.provider, Provider::Dodo);
        let unknown = toml::from_str::<Row>("provider = \"acme\"")
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("unknown variant `acme`, expected one of `whop`, `dodo`, `aghanim`"),
            "{unknown}"
        );
        assert!(toml::from_str::<Row>("provider = \"Whop\"").is_err());
        assert!(toml::from_str::<Row>("provider = 1").is_err());
    }

    #[test]
    fn the_names_list_reads_as_the_messages_spelled_it() {
        assert_eq!(Provider::names_list(), "whop, dodo or aghanim");
    }
}
