//! The service's Prometheus metrics: findings by source and verdict, request latency, manifest
//! cache hits and misses, fetch errors, store errors. Counting only; `/metrics` renders them in
//! the Prometheus text format (prometheus-client's encoder).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A finding's source and one of its verdicts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    /// `scc`, `guardduty`, `falco`, …
    pub source: String,
    /// The verdict code.
    pub verdict: String,
}

/// The route a request came in on.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template (`/v1/scc`).
    pub route: String,
}

/// Every metric the service keeps.
pub struct Metrics {
    registry: Registry,
    /// Judged binaries by source and verdict.
    pub verdicts: Family<VerdictLabels, Counter>,
    /// Request latency by route, seconds.
    pub latency: Family<RouteLabels, Histogram>,
    /// Manifest cache lookups answered from the cache.
    pub cache_hits: Counter,
    /// Manifest cache lookups that resolved the image.
    pub cache_misses: Counter,
    /// Image resolutions that failed (transient and final).
    pub fetch_errors: Counter,
    /// Records the store could not write.
    pub store_errors: Counter,
    /// Needs-action notifications the webhook did not take after every retry.
    pub webhook_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("exelock");
        let verdicts = Family::<VerdictLabels, Counter>::default();
        // Buckets from 1 ms to ~4 s: a warm judgement is milliseconds, a cold one fetches.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.001, 2.0, 13,
            ))
        });
        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        let fetch_errors = Counter::default();
        let store_errors = Counter::default();
        let webhook_failures = Counter::default();
        registry.register(
            "findings",
            "Judged binaries by finding source and verdict",
            verdicts.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by route",
            latency.clone(),
        );
        registry.register(
            "manifest_cache_hits",
            "Findings whose image's verified manifest came from the cache",
            cache_hits.clone(),
        );
        registry.register(
            "manifest_cache_misses",
            "Findings whose image had to be resolved and verified",
            cache_misses.clone(),
        );
        registry.register(
            "fetch_errors",
            "Image resolutions that failed",
            fetch_errors.clone(),
        );
        registry.register(
            "store_errors",
            "Verdicts the database could not store",
            store_errors.clone(),
        );
        registry.register(
            "webhook_failures",
            "Needs-action alerts the webhook did not accept after every retry",
            webhook_failures.clone(),
        );
        Self {
            registry,
            verdicts,
            latency,
            cache_hits,
            cache_misses,
            fetch_errors,
            store_errors,
            webhook_failures,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
