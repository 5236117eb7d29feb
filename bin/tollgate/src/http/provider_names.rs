//! Texts that list or name the providers, built at run time: the wire names a request may give come from
//! [`Provider::ALL`] (what parsing accepts), everything else from the built-in registry's adapters (their
//! [`SetupGuide`](tollgate_providers::SetupGuide) and [`Naming`]), so that a provider added to the registry
//! appears in every message, help text and OpenAPI description without being named here.

use tollgate_policy::Provider;
use tollgate_providers::{Naming, ProviderAdapter, Registry};

use crate::http::error::ApiError;

/// `a, b and c` (`a and b`, `a`).
pub fn and_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    joined(items, "and")
}

/// `a, b or c` (`a or b`, `a`).
pub fn or_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    joined(items, "or")
}

fn joined<S: AsRef<str>>(items: impl IntoIterator<Item = S>, last: &str) -> String {
    let items: Vec<String> = items.into_iter().map(|s| s.as_ref().to_owned()).collect();
    match items.split_last() {
        Some((tail, rest)) if !rest.is_empty() => format!("{} {last} {tail}", rest.join(", ")),
        _ => items.concat(),
    }
}

/// The registered adapters, in registration order.
pub fn adapters() -> impl Iterator<Item = &'static dyn ProviderAdapter> {
    Registry::shared().adapters()
}

/// The wire names a request may give, as a message lists them, comma-separated: `whop, dodo, ...`.
pub fn wire_names() -> String {
    Provider::ALL.map(Provider::as_str).join(", ")
}

/// The wire names a request may give, in code, as markdown lists them: `` `whop`, `dodo` or ... ``.
pub fn wire_names_markdown() -> String {
    or_list(Provider::ALL.map(|p| format!("`{p}`")))
}

/// `400 INVALID_REQUEST` for a provider name that is not one of [`Provider::ALL`].
pub fn unknown_provider() -> ApiError {
    ApiError::invalid_request(format!("unknown provider: expected one of {}", wire_names()))
}

/// The providers' names as people write them: `Whop, Dodo Payments and ...`.
pub fn titles() -> String {
    and_list(adapters().map(|a| a.guide().title))
}

/// Each provider's subject id, as a message names them: `Whop user id, Dodo customer id or ... player_id`.
pub fn subject_ids() -> String {
    or_list(adapters().map(|a| {
        let naming = a.naming();
        format!("{} {}", naming.short_name, naming.subject_id())
    }))
}

/// Each provider's subject id, as markdown names them (a payload field in code).
pub fn subject_ids_markdown() -> String {
    or_list(adapters().map(|a| {
        let naming = a.naming();
        format!("{} {}", naming.short_name, naming.subject_id_markdown())
    }))
}

/// Each provider's entitlement id prefixes with its name: `` `mem_...` (Whop), `entg_...` or `lic_...` (Dodo) ``.
pub fn id_prefixes_markdown() -> String {
    adapters()
        .map(|a| {
            let naming: Naming = a.naming();
            format!(
                "{} ({})",
                or_list(naming.id_prefixes.iter().map(|p| format!("`{p}...`"))),
                naming.short_name
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The provider the examples of subject lookups show: the first whose subjects are game players (what a game
/// server checks), else the first registered.
pub fn subject_example() -> Option<&'static dyn ProviderAdapter> {
    adapters()
        .find(|a| a.naming().game_players)
        .or_else(|| adapters().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_the_texts_spelled_them() {
        assert_eq!(and_list(["a"]), "a");
        assert_eq!(and_list(["a", "b"]), "a and b");
        assert_eq!(or_list(["a", "b", "c"]), "a, b or c");
        assert_eq!(or_list(Vec::<String>::new()), "");
    }
}
