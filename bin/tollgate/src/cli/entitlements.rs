//! `tollgate entitlements show <provider> <external-id | subject>`: the entitlement(s) with the access decision,
//! devices and audit trail, read straight from the database.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use tollgate_service::clock::SystemClock;
use tollgate_service::query::{EntitlementDetail, Query};

use crate::cli::migrate::open_migrated;
use crate::cli::table::{Table, or_dash};
use crate::cli::{CliError, EntitlementsShowArgs, print_json};
use crate::settings::Settings;

pub fn show(settings: &Settings, args: &EntitlementsShowArgs) -> Result<(), CliError> {
    let store = open_migrated(settings)?;
    let query = Query::new(store, Arc::new(settings.policy.clone()), Arc::new(SystemClock));
    let provider = args.provider;
    let details = match query.find_entitlement(provider, &args.id)? {
        Some(detail) => vec![detail],
        None => query.entitlement_details_of(provider, &args.id)?,
    };
    if details.is_empty() {
        return Err(CliError::NotFound(format!(
            "no {provider} entitlement has the id or subject `{}`: check the id in the provider's dashboard, and \
             `tollgate inbox list --provider {provider}` for deliveries that failed",
            args.id
        )));
    }
    if args.json {
        return print_json(&serde_json::json!({ "entitlements": details }));
    }
    for (i, detail) in details.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", render(detail));
    }
    Ok(())
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn render(detail: &EntitlementDetail) -> String {
    let e = &detail.entitlement;
    let access = if e.access.allowed {
        format!(
            "allowed ({}), until {}",
            e.access.code,
            or_dash(e.access.until.map(time))
        )
    } else {
        format!("denied ({})", e.access.code)
    };
    let mut rows = vec![
        (
            "entitlement",
            format!("{} ({} {})", e.id, e.provider, e.external_id),
        ),
        ("access", access),
        ("status", e.status.clone()),
        ("subject", or_dash(e.subject.as_ref())),
        ("product", or_dash(e.product.as_ref())),
        ("plan", or_dash(e.plan.as_ref())),
        ("period end", or_dash(e.current_period_end.map(time))),
        ("cancel at end", e.cancel_at_period_end.to_string()),
        (
            "license key",
            or_dash(e.license_key_last4.as_ref().map(|l| format!("…{l}"))),
        ),
        (
            "policy",
            format!(
                "max_devices {}, offline_grace {}, revocation {}",
                detail.policy.max_devices,
                detail.policy.offline_grace,
                serde_json::to_value(detail.policy.revocation)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        ),
        ("updated", time(detail.updated_at)),
        ("synced", or_dash(detail.synced_at.map(time))),
    ];
    if !e.features.is_empty() {
        rows.push(("features", e.features.join(", ")));
    }
    if let Some(url) = &e.oauth_url {
        rows.push(("oauth url", url.clone()));
    }
    let mut out: String = rows
        .iter()
        .map(|(name, value)| format!("{name:<14} {value}\n"))
        .collect();

    out.push_str(&format!(
        "\ndevices ({} of {})\n",
        detail.devices.len(),
        detail.policy.max_devices
    ));
    if detail.devices.is_empty() {
        out.push_str("  none activated\n");
    } else {
        let mut table = Table::new(&["ID", "NAME", "ACTIVATED", "LAST SEEN"]);
        for d in &detail.devices {
            table.row(vec![
                d.id.clone(),
                or_dash(d.name.as_ref()),
                time(d.activated_at),
                time(d.last_seen_at),
            ]);
        }
        out.extend(table.render().lines().map(|l| format!("  {l}\n")));
    }

    out.push_str(&format!("\naudit trail ({} entries)\n", detail.audit.len()));
    let mut table = Table::new(&["AT", "ACTOR", "ACTION", "INBOX", "DETAIL"]);
    for a in &detail.audit {
        table.row(vec![
            time(a.at),
            a.actor.to_owned(),
            a.action.clone(),
            or_dash(a.inbox_id),
            or_dash(a.detail.as_ref()),
        ]);
    }
    if table.is_empty() {
        out.push_str("  empty\n");
    } else {
        out.extend(table.render().lines().map(|l| format!("  {l}\n")));
    }
    out
}
