#![doc = include_str!("../README.md")]

mod config;
mod decision;
mod duration;
mod event;
mod provider;
mod state;

pub use config::{AccessClass, PlanModel, Policy, PolicySet, ProductRule, Revocation, TransferMode};
pub use decision::{Decision, DenyCode};
pub use duration::{DurationError, HumanDuration};
pub use event::{EventKind, ProviderEvent};
pub use provider::{Provider, UnknownProvider};
pub use state::{EntitlementState, FieldClocks, Lifecycle};

/// Fold one provider event into an entitlement state.
///
/// PLACEHOLDER: the full rules (per-field last-writer-wins clocks, tie-breaks, idempotence) are being written in
/// `apply.rs`; this signature is the contract other crates build on.
pub fn apply(state: &EntitlementState, event: &ProviderEvent) -> EntitlementState {
    let _ = event;
    state.clone()
}
