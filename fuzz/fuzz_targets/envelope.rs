//! Bundle and envelope verification on arbitrary bytes: never panic, never accept.
#![no_main]

use exelock::attest::{Trust, keys::PublicKey, verify_bundle, verify_envelope};
use exelock::digest::Sha256Digest;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcLa+L6qIIdGZdbCBc7N/bhorzWfs
VkEombbwuQfU1C8FOGJNtMpBoeWR505aOQWx/VZseDUh+PjWTkD5MHMWBg==
-----END PUBLIC KEY-----
";

fuzz_target!(|data: &[u8]| {
    let Ok(key) = PublicKey::from_pem(KEY.as_bytes()) else {
        return;
    };
    let Ok(trust) = Trust::key(key) else {
        return;
    };
    let digest = Sha256Digest::of(b"subject");
    assert!(verify_bundle(data, &digest, &trust).is_err());
    assert!(verify_envelope(data, &digest, &trust).is_err());
});
