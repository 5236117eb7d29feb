//! The Dodo device pass: each Dodo entitlement whose devices carry a license key instance (`lki_...`) is compared
//! with Dodo's list of that key's instances (`GET /license_key_instances?license_key_id=lic_...`).
//!
//! - A device Tollgate holds whose instance Dodo no longer has (deactivated in Dodo's dashboard or by another
//!   client) is freed, with an audit row saying so: its seat is free at Dodo, so it is freed here too, and the app
//!   on it activates again if it is still in use. Only devices activated before the listing began are judged, so an
//!   activation racing the pass is never freed.
//! - A device whose instance Dodo names differently (renamed with `PATCH /license_key_instances/{id}`) takes Dodo's
//!   name, with an audit row.
//! - An instance Dodo has and Tollgate does not know is left alone: Tollgate cannot tell which device holds it, and
//!   deactivating it could break an install that works. The report notes it (it uses a seat of the key at Dodo).
//!
//! The license key id is the entitlement's own id for a key activated before its grant arrived (`lic_...`);
//! otherwise Dodo names it: `GET /license_key_instances/{id}` of one of the entitlement's instances. A 404 there is
//! Dodo saying that instance is gone.

use std::collections::BTreeMap;

use tollgate_providers::dodo::{DodoApi, DodoInstance, DodoInstanceQuery, DodoPageQuery};
use tollgate_store::{Actor, Device, Entitlement};

use super::ReconcileError;
use super::pass::{Flow, Pass};
use super::report::{Repair, RepairKind};

/// Dodo's largest page.
const MAX_PAGE: u32 = 100;
/// The prefix of a Dodo license key id.
const LICENSE_KEY_PREFIX: &str = "lic_";

pub(super) async fn run(pass: &mut Pass<'_>, api: &dyn DodoApi) -> Result<(), ReconcileError> {
    let page_size = pass.page_size().min(MAX_PAGE);
    let mut after = None;
    loop {
        let cursor = after.clone();
        let provider = pass.provider();
        let entitlements = pass
            .reconciler
            .db(move |s| s.list_entitlements_with_instances(provider, cursor.as_ref(), page_size))
            .await?;
        let Some(last) = entitlements.last() else {
            return Ok(());
        };
        after = Some(last.id.clone());
        for entitlement in &entitlements {
            if entitlement_devices(pass, api, entitlement).await? == Flow::Stop {
                return Ok(());
            }
        }
        if entitlements.len() < page_size as usize || pass.renew().await? == Flow::Stop {
            return Ok(());
        }
    }
}

/// One entitlement's devices against Dodo's instances. `Stop` when Dodo cannot be reached.
async fn entitlement_devices(
    pass: &mut Pass<'_>,
    api: &dyn DodoApi,
    entitlement: &Entitlement,
) -> Result<Flow, ReconcileError> {
    let id = entitlement.id.clone();
    let devices = pass.reconciler.db(move |s| s.list_devices(&id)).await?;
    // Read before any call: devices activated from now on are not judged against this listing.
    let observed_at = pass.now();
    let judged: Vec<(&Device, &str)> = devices
        .iter()
        .filter(|d| d.activated_at < observed_at)
        .filter_map(|d| d.provider_instance_id.as_deref().map(|instance| (d, instance)))
        .collect();
    if judged.is_empty() {
        return Ok(Flow::Continue);
    }
    let what = format!("dodo entitlement {}", entitlement.state.external_id);
    let mut gone: Vec<&str> = Vec::new();
    let license_key_id = if entitlement.state.external_id.starts_with(LICENSE_KEY_PREFIX) {
        Some(entitlement.state.external_id.clone())
    } else {
        let mut found = None;
        for (_, instance) in &judged {
            match api.find_license_key_instance(&pass.ctx, instance).await {
                Ok(Some(DodoInstance {
                    license_key_id: Some(key),
                    ..
                })) => {
                    found = Some(key);
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) => gone.push(instance),
                Err(error) => return Ok(pass.failed(&format!("{what}: instance {instance}"), &error)),
            }
        }
        found
    };
    let listed = match &license_key_id {
        Some(key) => match list_instances(pass, api, key).await {
            Ok(listed) => Some(listed),
            Err(flow) => return Ok(flow),
        },
        None => None,
    };
    for (device, instance) in &judged {
        let at_dodo = listed.as_ref().map(|listed| listed.get(*instance));
        match at_dodo {
            // Listed: the device's seat is Dodo's too; take Dodo's name for it.
            Some(Some(dodo_name)) => {
                if let Some(name) = dodo_name.as_deref()
                    && device.name.as_deref() != Some(name)
                {
                    rename(pass, entitlement, device, instance, name).await?;
                }
            }
            // Not in the key's listing, or (no key id learned) answered 404 on its own.
            Some(None) => free(pass, entitlement, device, instance).await?,
            None if gone.contains(instance) => free(pass, entitlement, device, instance).await?,
            None => {}
        }
    }
    if let (Some(key), Some(listed)) = (&license_key_id, &listed) {
        let known: Vec<&str> = devices
            .iter()
            .filter_map(|d| d.provider_instance_id.as_deref())
            .collect();
        let unknown: Vec<&str> = listed
            .keys()
            .map(String::as_str)
            .filter(|instance| !known.contains(instance))
            .collect();
        if !unknown.is_empty() {
            let note = format!(
                "dodo license key {key} ({what}): Dodo holds {} activation(s) Tollgate does not know ({}); they use \
                 seats of the key at Dodo and are left alone (Tollgate cannot tell which device holds them): \
                 deactivate them in Dodo's dashboard if they are not in use",
                unknown.len(),
                unknown.join(", ")
            );
            log::warn!(provider = "dodo", entitlement_id = entitlement.id.as_str(); "reconciliation: {note}");
            pass.report.notes.push(note);
        }
    }
    Ok(Flow::Continue)
}

/// Every instance of a license key, by id, with its name. `Err(flow)` after a failed call (recorded).
async fn list_instances(
    pass: &mut Pass<'_>,
    api: &dyn DodoApi,
    license_key_id: &str,
) -> Result<BTreeMap<String, Option<String>>, Flow> {
    let page_size = pass.page_size().min(MAX_PAGE);
    let mut listed = BTreeMap::new();
    let mut query = DodoInstanceQuery {
        license_key_id: license_key_id.to_owned(),
        page: DodoPageQuery::default(),
    };
    for page_number in 0.. {
        query.page = DodoPageQuery {
            page_number,
            page_size: Some(page_size),
        };
        let instances = match api.list_license_key_instances(&pass.ctx, &query).await {
            Ok(instances) => instances,
            Err(error) => {
                return Err(pass.failed(
                    &format!("dodo list_license_key_instances {license_key_id}"),
                    &error,
                ));
            }
        };
        let last = instances.len() < page_size as usize;
        for instance in instances {
            listed.insert(instance.id, instance.name);
        }
        if last {
            break;
        }
    }
    Ok(listed)
}

async fn free(
    pass: &mut Pass<'_>,
    entitlement: &Entitlement,
    device: &Device,
    instance: &str,
) -> Result<(), ReconcileError> {
    let detail = format!(
        "reconcile: Dodo no longer has license key instance {instance} (deactivated at Dodo): the device is freed, \
         and activates again if it is still in use"
    );
    let (device_id, instance_id, note) = (device.id.clone(), instance.to_owned(), detail.clone());
    let now = pass.now();
    let released = pass
        .reconciler
        .db(move |s| s.release_device(&device_id, &instance_id, Actor::Reconcile, &note, now))
        .await?;
    if released.is_some() {
        pass.report.devices_freed += 1;
        repaired(pass, entitlement, device, RepairKind::DeviceFreed, detail);
    }
    Ok(())
}

async fn rename(
    pass: &mut Pass<'_>,
    entitlement: &Entitlement,
    device: &Device,
    instance: &str,
    name: &str,
) -> Result<(), ReconcileError> {
    let detail = format!(
        "reconcile: name {} -> {name}, as Dodo names license key instance {instance}",
        device.name.as_deref().unwrap_or("-")
    );
    let (device_id, new_name, note) = (device.id.clone(), name.to_owned(), detail.clone());
    let now = pass.now();
    let renamed = pass
        .reconciler
        .db(move |s| s.rename_device(&device_id, &new_name, Actor::Reconcile, &note, now))
        .await?;
    if renamed {
        pass.report.devices_renamed += 1;
        repaired(pass, entitlement, device, RepairKind::DeviceRenamed, detail);
    }
    Ok(())
}

/// Log a device repair and add it to the report.
fn repaired(
    pass: &mut Pass<'_>,
    entitlement: &Entitlement,
    device: &Device,
    kind: RepairKind,
    detail: String,
) {
    log::info!(entitlement_id = entitlement.id.as_str(), device_id = device.id.as_str(); "{detail}");
    pass.report.repairs.push(Repair {
        kind,
        entitlement_id: entitlement.id.to_string(),
        external_id: entitlement.state.external_id.clone(),
        detail,
    });
}
