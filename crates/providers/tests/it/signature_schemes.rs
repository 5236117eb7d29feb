//! Each adapter's signature-scheme facts agree with what it signs and verifies: the headers it names are the ones it
//! sends, the signed time reads back, only its own headers are recognized as its, and its scheme has a label.

use tollgate_providers::Registry;
use tollgate_verify::{HeaderLookup, Tolerance, VerifyError};

const NOW: i64 = 1_790_000_000;
const BODY: &[u8] = br#"{"type":"test"}"#;

#[expect(
    clippy::unwrap_used,
    reason = "test helper: each guide's example secret is valid"
)]
fn signed(adapter: &dyn tollgate_providers::ProviderAdapter) -> Vec<(&'static str, String)> {
    adapter
        .sign(adapter.guide().example_secret, "msg_1", NOW, BODY)
        .unwrap()
}

#[test]
fn the_headers_an_adapter_signs_with_are_its_signature_headers() {
    for adapter in Registry::shared().adapters() {
        let names: Vec<&str> = adapter.webhook_doc().headers.iter().map(|h| h.name).collect();
        assert!(!names.is_empty(), "{}", adapter.provider());
        for name in &names {
            assert_eq!(*name, name.to_ascii_lowercase(), "{}", adapter.provider());
        }
        for (name, _) in signed(adapter) {
            assert!(names.contains(&name), "{}: {name}", adapter.provider());
        }
    }
}

#[test]
fn what_an_adapter_signs_verifies_and_carries_its_time_and_label() {
    for adapter in Registry::shared().adapters() {
        let headers = signed(adapter);
        let verifier = adapter
            .verifier(&[adapter.guide().example_secret], Tolerance::DEFAULT)
            .unwrap();
        let verified = verifier.verify(&headers, BODY, NOW).unwrap();
        assert_eq!(verified.timestamp, NOW);
        assert!(!adapter.scheme_label(verified.scheme).is_empty());
        assert_eq!(
            adapter.signed_timestamp(&headers),
            Some(Ok(NOW)),
            "{}",
            adapter.provider()
        );
        assert_eq!(adapter.signed_timestamp(&Vec::<(&str, &str)>::new()), None);
    }
}

#[test]
fn an_unreadable_signed_time_names_its_header() {
    for adapter in Registry::shared().adapters() {
        let headers: Vec<(&str, String)> = signed(adapter)
            .into_iter()
            .map(|(name, value)| {
                let value = if value == NOW.to_string() {
                    "soon".to_owned()
                } else {
                    value
                };
                (name, value)
            })
            .collect();
        match adapter.signed_timestamp(&headers) {
            Some(Err(VerifyError::MalformedHeader(header))) => {
                assert!(headers.header(header.name()).is_some(), "{header}");
            }
            other => panic!("{}: {other:?}", adapter.provider()),
        }
    }
}

#[test]
fn no_adapter_recognizes_another_ones_headers() {
    let registry = Registry::shared();
    for signer in registry.adapters() {
        let headers = signed(signer);
        for other in registry.adapters().filter(|a| a.provider() != signer.provider()) {
            assert!(
                !other.recognizes(&headers),
                "{} took {}'s headers",
                other.provider(),
                signer.provider()
            );
        }
    }
    // A header only one provider sends names it: the legacy Whop signature here.
    let legacy = [("X-Whop-Signature", "t=1,v1=00")];
    let recognized: Vec<_> = registry
        .adapters()
        .filter(|a| a.recognizes(&legacy))
        .map(|a| a.provider())
        .collect();
    assert_eq!(recognized, [tollgate_policy::Provider::Whop]);
}
