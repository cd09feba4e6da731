//! `exelock serve`: the HTTP service runtime detectors push findings to. Each finding is judged
//! as `triage` judges it, stored (idempotent per source and finding id), alerted on when it needs
//! action, and its legitimate binaries feed the bake list of the image's repository.

pub mod auth;
pub mod intake;
pub mod store;
