//! Text for people, rendered from what a command produced: data in, a string out, control
//! characters escaped (`terminal_safe`) and styled through `color` where it is meant for a
//! terminal. No I/O: the commands decide where the text goes.

pub mod attest;
pub mod diff;
pub mod gate;
pub mod scan;
pub mod triage;
