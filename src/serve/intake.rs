//! The bodies `serve` accepts, turned into findings: Pub/Sub push envelopes around SCC
//! notifications, EventBridge GuardDuty events, Falcosidekick posts, and any format `triage` reads.
