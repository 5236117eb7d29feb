//! Verifying the same signed Standard Webhooks delivery (1 KiB and 64 KiB bodies) with tollgate-verify, the
//! `standardwebhooks` crate and the `svix` crate. Run: `cargo bench -p tollgate-verify`; figures in
//! docs/benchmarks.md.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tollgate_verify::{HeaderLookup, StandardWebhooksVerifier, sign_standard_webhooks};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SIZES: [usize; 2] = [1024, 64 * 1024];

/// A JSON-shaped ASCII body of exactly `len` bytes (the baselines require UTF-8).
fn body(len: usize) -> Vec<u8> {
    let mut body = br#"{"type":"payment.succeeded","data":{"note":""#.to_vec();
    let tail = br#""}}"#;
    let filler = b"abcdefghijklmnopqrstuvwxyz0123456789";
    while body.len() + tail.len() < len {
        body.push(filler[body.len() % filler.len()]);
    }
    body.extend_from_slice(tail);
    body
}

/// tollgate-verify reading an `http::HeaderMap` through its lookup trait, to show the header container is not
/// what makes the difference.
struct HttpHeaders<'a>(&'a http::HeaderMap);

impl HeaderLookup for HttpHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(http::HeaderValue::as_bytes)
    }
}

#[expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: fixed valid inputs; a failure must stop the run"
)]
fn verify(c: &mut Criterion) {
    let tollgate = StandardWebhooksVerifier::new([SECRET]).unwrap();
    let standard = standardwebhooks::Webhook::new(SECRET).unwrap();
    let svix = svix::webhooks::Webhook::new(SECRET).unwrap();

    let mut group = c.benchmark_group("verify");
    for size in SIZES {
        let body = body(size);
        assert_eq!(body.len(), size);
        // The baselines read the wall clock, so each size is signed "now" (its run lasts well under 300 s).
        let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
        let timestamp = now.to_string();
        let signature = sign_standard_webhooks(SECRET, ID, now, &body).unwrap();
        let pairs = [
            ("webhook-id", ID),
            ("webhook-timestamp", &timestamp),
            ("webhook-signature", &signature),
        ];
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name, http::HeaderValue::from_str(value).unwrap());
        }
        tollgate.verify(&pairs, &body, now).unwrap();
        tollgate.verify(&HttpHeaders(&map), &body, now).unwrap();
        standard.verify(&body, &map).unwrap();
        svix.verify(&body, &map).unwrap();

        group.throughput(Throughput::Bytes(u64::try_from(size).unwrap()));
        group.bench_with_input(BenchmarkId::new("tollgate-verify", size), &body, |b, body| {
            b.iter(|| {
                tollgate
                    .verify(black_box(&pairs), black_box(body), black_box(now))
                    .is_ok()
            });
        });
        group.bench_with_input(
            BenchmarkId::new("tollgate-verify/http-headermap", size),
            &body,
            |b, body| {
                b.iter(|| {
                    tollgate
                        .verify(&HttpHeaders(black_box(&map)), black_box(body), black_box(now))
                        .is_ok()
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("standardwebhooks", size), &body, |b, body| {
            b.iter(|| standard.verify(black_box(body), black_box(&map)).is_ok());
        });
        group.bench_with_input(BenchmarkId::new("svix", size), &body, |b, body| {
            b.iter(|| svix.verify(black_box(body), black_box(&map)).is_ok());
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
