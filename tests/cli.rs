//! The one integration test binary: runs the built `exelock` against fixture images in
//! `testdata/` (made by `testdata/make_fixtures.py`) and a real local registry.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

mod action;
mod attach;
mod attest;
mod cache;
mod cosign;
mod deploy;
mod engine;
mod gate;
mod keyless;
mod messages;
mod output;
mod packages;
mod prefix;
mod real_roots;
mod registry;
mod scan;
mod serve;
mod serve_store;
mod shell;
mod sigstore_vectors;
mod support;
mod triage;
