//! Integration-test harness: the `exelock` command every test runs, with the checks of how a
//! run ended ([`command`]); a real local OCI registry per test
//! ([`registry::Registry`], CNCF distribution's `docker-registry` in plain,
//! htpasswd, TLS or token-auth mode) and an in-process fault-injecting
//! reverse proxy ([`faults::FaultProxy`]) to put in front of it, test certificates
//! ([`certificates`]), and local Sigstore services
//! (Fulcio, Rekor v1 and v2, a TSA: [`sigstore_services::SigstoreServices`]) for keyless signing.
//!
//! A podman service speaking the Docker Engine API ([`podman::Podman`]), one per test
//! process, with fixtures loaded.
//!
//! Needs on PATH: `docker-registry`, `skopeo`, `htpasswd` (apache2-utils),
//! `openssl`, `sh`, `podman`.

// Not every test binary uses every helper.
#![allow(dead_code)]

pub mod certificates;
pub mod command;
pub mod faults;
pub mod fixtures;
pub mod gate_report;
pub mod http;
pub mod manifest;
pub mod podman;
pub mod registry;
pub mod rootfs;
pub mod rpm_root;
pub mod signing;
pub mod sigstore_services;

#[cfg(test)]
mod smoke;

#[allow(unused_imports)]
pub use command::{
    assert_input_error, assert_policy_failure, assert_success, assert_success_printing, exelock,
    exelock_in, exelock_output, exelock_process, exelock_process_in, printed, run_ok, transcript,
};
#[allow(unused_imports)]
pub use faults::{Fault, FaultAction, FaultProxy, ProxiedRequest};
#[allow(unused_imports)]
pub use registry::{Credentials, Mode, Registry, TokenIssuer};
