//! Issue 18 item 2: a state file copied to another machine, with its `device_hash` edited to that machine's, is
//! refused there, because the lease's signed device claim names the first machine's device hash.

use tollgate_client::{AccessReason, ClientError, DeviceHash, StateFile, StoredState};
use tollgate_providers::whop::fake::FakeMembership;

use crate::e2e::server::{Tollgate, real_now};

const KEY: &str = "E2E-CLAIM-KEY-0C1A";

#[tokio::test]
async fn a_state_file_copied_to_another_machine_with_its_device_hash_edited_is_refused() {
    let t = real_now();
    let server = Tollgate::start(t, vec![FakeMembership::new("mem_claim_1", KEY)]);
    let first = server.client("machine-a", t).await;
    let second = server.client("machine-b", t).await;
    first.client.activate(KEY).await.unwrap();
    assert_eq!(
        first.client.check().await.unwrap().reason,
        AccessReason::LeaseFresh
    );

    // the attack: copy the file, and write machine-b's device hash into it
    let copied = first.client.stored_state().unwrap().unwrap();
    let edited = StoredState {
        device_hash: DeviceHash::of("com.example.e2e", "machine-b").as_str().to_owned(),
        ..copied.clone()
    };
    StateFile::new(second.client.state_path()).save(&edited).unwrap();
    assert_eq!(second.client.check().await, Err(ClientError::NotActivated));

    // copied unedited, the state file's own device check refuses it too
    StateFile::new(second.client.state_path()).save(&copied).unwrap();
    assert_eq!(second.client.check().await, Err(ClientError::NotActivated));

    // and on the machine it was made for, the same file still works
    StateFile::new(first.client.state_path()).save(&copied).unwrap();
    assert_eq!(
        first.client.check().await.unwrap().reason,
        AccessReason::LeaseFresh
    );
}
