//! The help texts that name the providers, built from the registry's adapters and [`Provider::ALL`] (see
//! `http::provider_names`), so that a provider added to the registry appears in `tollgate --help` and every
//! subcommand's help without being named here. Each is written as clap shows a one-paragraph doc comment: without
//! a final period.

use tollgate_policy::Provider;

use crate::http::provider_names::{adapters, or_list, subject_example, titles};

/// `tollgate --help`'s first line.
pub fn about() -> String {
    format!(
        "Tollgate: a self-hosted licensing and entitlement backend for {}",
        titles()
    )
}

/// A `PROVIDER` argument: the wire names.
pub fn provider() -> String {
    Provider::names_list()
}

/// `--provider` of a command that filters by provider.
pub fn only_provider() -> String {
    format!("Only this provider: {}", Provider::names_list())
}

/// `--provider` of `tollgate reconcile`.
pub fn reconcile_provider() -> String {
    format!(
        "Only this provider: {} (default: every provider with an API key)",
        Provider::names_list()
    )
}

/// What the providers call an entitlement: `membership, grant or subscription`.
fn id_nouns() -> String {
    or_list(adapters().map(|a| a.guide().id_noun))
}

/// `tollgate entitlements show`'s description.
pub fn entitlements_show() -> String {
    format!(
        "Show the entitlement(s) of an external id ({} id) or of a subject (customer or player id)",
        id_nouns()
    )
}

/// `tollgate entitlements show`'s examples: an entitlement id of the first provider, a subject of the example
/// subject lookup's.
pub fn entitlements_show_examples() -> String {
    let mut text = String::from("Examples:");
    if let Some(first) = adapters().next() {
        text.push_str(&format!(
            "\n  tollgate entitlements show {} {}",
            first.provider(),
            first.guide().example_external_id
        ));
    }
    if let Some(example) = subject_example() {
        text.push_str(&format!(
            "\n  tollgate entitlements show {} {} --json",
            example.provider(),
            example.guide().example_subject
        ));
    }
    text
}

/// `tollgate entitlements show`'s `ID`: each provider's usual id prefix, and its subject id.
pub fn entitlements_show_id() -> String {
    let prefixes: Vec<String> = adapters()
        .filter_map(|a| a.naming().id_prefixes.first().map(|p| format!("`{p}...`")))
        .collect();
    let subjects: Vec<String> = adapters()
        .map(|a| {
            let naming = a.naming();
            format!("{} {} id", naming.short_name, naming.subject_noun)
        })
        .collect();
    format!(
        "The provider's id for the entitlement ({}), or the subject ({})",
        prefixes.join(", "),
        subjects.join(", ")
    )
}

/// `tollgate simulate webhook`'s after-help: each provider's simulated events.
pub fn simulate_webhook_events() -> String {
    let events: Vec<String> = adapters()
        .map(|a| format!("{} {}", a.provider(), a.simulated_events().join(" | ")))
        .collect();
    format!(
        "Events: {}.\n\nExample:\n  tollgate simulate webhook --provider whop --event membership.activated\n  \
         tollgate entitlements show whop mem_7Hq2LwZp0aXkR1",
        events.join("; ")
    )
}

/// `tollgate simulate webhook --external-id`.
pub fn simulate_external_id() -> String {
    format!(
        "The provider's id for the entitlement (default: the template's {} id)",
        id_nouns()
    )
}

/// `tollgate simulate webhook --subject`.
pub fn simulate_subject() -> String {
    let subjects: Vec<String> = adapters()
        .map(|a| {
            let naming = a.naming();
            format!("{} {}", naming.short_name, naming.subject_noun)
        })
        .collect();
    format!(
        "The customer ({}) id (default: the template's)",
        subjects.join(", ")
    )
}

/// `tollgate dev`'s description: one fake per provider.
#[cfg(feature = "dev")]
pub fn dev() -> String {
    format!(
        "Run a complete local world to try Tollgate: fake {}, demo license keys, generated secrets, and the server \
         on a SQLite file",
        crate::http::provider_names::and_list(adapters().map(|a| a.naming().short_name))
    )
}

/// `tollgate dev`'s after-help: the outage switch of each fake provider.
#[cfg(feature = "dev")]
pub fn dev_details() -> String {
    let providers: Vec<&str> = adapters().map(|a| a.provider().as_str()).collect();
    format!(
        "Needs no configuration (it reads neither tollgate.toml nor TOLLGATE_ variables): the fakes run in this \
         process on 127.0.0.1, every provider api_base points at them, and no request can reach a real provider. \
         The banner prints the server URL, the admin and service tokens, the demo keys and the exact commands to \
         activate one with curl, with the JS and Python SDKs and with the Rust demo app. `POST \
         /dev/providers/{{{}}}/outage` with the admin token and {{\"down\": true}} makes a fake answer 503 until \
         {{\"down\": false}}. GET /healthz says \"mode\":\"dev\". Stops on Ctrl-C or SIGTERM.\n\nExamples:\n  \
         tollgate dev\n  tollgate dev --listen 127.0.0.1:0 --dir /tmp/tg-dev --json\n  curl -s -X POST \
         http://127.0.0.1:8080/api/license/activate -H 'Content-Type: application/json' -d \
         '{{\"license_key\":\"TGDEV-ACTV-7Q2M-K9XD\",\"hwid\":\"dev-laptop-1\"}}'",
        providers.join("|")
    )
}
