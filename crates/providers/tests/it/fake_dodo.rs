//! The Dodo fake as its docs describe it: license key instances, its 422 codes and the 404 validate mode.

use serde_json::json;

use crate::common::send;
use tollgate_providers::dodo::fake::{FakeDodo, FakeLicenseKey};
use tollgate_testkit::FakeProvider;

#[tokio::test]
async fn dodo_instances_422_codes_and_validate_404() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "KEY-1", None));
    let instance = dodo.add_instance("KEY-1", "Laptop").unwrap();
    let client = reqwest::Client::new();
    let base = dodo.base_url();

    let (status, list) = send(
        client
            .get(format!("{base}/license_key_instances?license_key_id=lic_1"))
            .bearer_auth(FakeDodo::API_KEY),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        list["items"][0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["business_id", "created_at", "id", "license_key_id", "name"]
    );
    let (status, _) = send(client.get(format!("{base}/license_key_instances?license_key_id=lic_1"))).await;
    assert_eq!(status, 401);
    let (status, renamed) = send(
        client
            .patch(format!("{base}/license_key_instances/{instance}"))
            .bearer_auth(FakeDodo::API_KEY)
            .json(&json!({"name": "Studio"})),
    )
    .await;
    assert_eq!((status, renamed["name"].clone()), (200, json!("Studio")));

    dodo.refuse_activations_as_invalid(true);
    let (status, error) = send(
        client
            .post(format!("{base}/licenses/activate"))
            .json(&json!({"license_key": "KEY-1", "name": "pc"})),
    )
    .await;
    assert_eq!(
        (status, error["code"].clone()),
        (422, json!("INVALID_REQUEST_BODY"))
    );

    let validate = |key: &str| {
        send(
            client
                .post(format!("{base}/licenses/validate"))
                .json(&json!({"license_key": key})),
        )
    };
    assert_eq!(validate("NOPE").await, (200, json!({"valid": false})));
    dodo.validate_unknown_as_404(true);
    let (status, error) = validate("NOPE").await;
    assert_eq!((status, error["code"].clone()), (404, json!("NOT_FOUND")));
    assert_eq!(validate("KEY-1").await, (200, json!({"valid": true})));
}
