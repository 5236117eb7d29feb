//! Identifier newtypes.

use std::fmt;

/// An entitlement's id: `ent_` followed by 24 hex characters. It is the `sub` of a lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntitlementId(String);

/// A device's id: `dev_` followed by 24 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(String);

/// A webhook inbox row's id: increasing in insertion order, so it pages the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboxId(pub i64);

macro_rules! text_id {
    ($name:ident) => {
        impl $name {
            /// Wrap an id read from a URL, a token or the database. It is not checked: a lookup of an id that does
            /// not exist finds nothing.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(EntitlementId);
text_id!(DeviceId);

impl fmt::Display for InboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
