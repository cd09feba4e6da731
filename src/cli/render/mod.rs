//! What commands show people, as pure functions: data in, `String` out (styled via `color`).
pub mod triage;
