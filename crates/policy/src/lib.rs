#![doc = include_str!("../README.md")]

mod apply;
mod config;
mod decide;
mod decision;
mod devices;
mod duration;
mod event;
mod provider;
mod state;
mod status;

pub use apply::{PARTIAL_DETAILS_CLOCK, apply, event_matches};
pub use config::{
    AccessClass, LONGEST_WINDOW, MAX_DEVICES_LIMIT, PlanModel, Policy, PolicyError, PolicySet, ProductRule,
    Revocation, TRANSFERS_PER_30D_LIMIT, TransferMode,
};
pub use decide::{AccessRequest, EntitlementAccess, RequestKind, decide, decide_entitlement};
pub use decision::{Decision, DenyCode, VALID_CODE};
pub use devices::{ActiveDevice, Admission, TRANSFER_WINDOW, TransferDenial, admit_device, check_transfer};
pub use duration::{DurationError, HumanDuration};
pub use event::{EventKind, ProviderEvent};
pub use provider::{Provider, UnknownProvider};
pub use state::{EntitlementState, FieldClocks, Lifecycle};
pub use status::{
    StatusSource, UNKNOWN_STATUS_CLASS, builtin_class, classify, classify_with_source, is_cancellation,
    is_payment_hold,
};
