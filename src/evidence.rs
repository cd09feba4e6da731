//! What `triage` and `serve` do with a finding's image: resolve it in its registry, verify its
//! attestation, compute the prefix digests partial hashes need from digest-verified layers, and
//! judge the finding's binaries ([`crate::triage`] is the pure judgement). Sync; the registry's
//! own runtime does the network I/O. Prints nothing.
