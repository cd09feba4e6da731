//! Verified manifests per image, bounded and expiring, fetched once under concurrency: a hundred
//! findings about one new image cause one registry resolution, and the rest wait for it (moka's
//! `try_get_with` runs one load per key and hands its result to every waiter).
//!
//! A final answer (no valid attestation, refused by the allow-list, not found) is cached like a
//! verified manifest, so a flood of findings about an unattested image does not become a flood of
//! registry requests; a transient failure (registry unreachable) is not cached, so the next
//! delivery tries again.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::evidence::{self, ImagePrefixes, ImageQuery, ImageState};
use crate::finding::Finding;
use crate::triage::Allowlist;

use super::metrics::Metrics;

/// What resolving an image gave: its verified manifests, or why there are none.
pub enum Resolved {
    /// The image's verified manifests, and the prefix digests computed for its findings so far.
    Found {
        /// The manifests.
        state: ImageState,
        /// Prefix digests of partially hashed findings, computed once per image and prefix.
        prefixes: RwLock<ImagePrefixes>,
    },
    /// Why the image cannot be judged against a verified manifest (final).
    Refused(String),
}

impl Resolved {
    /// Judges a finding against this image if that needs no prefix digest not yet computed:
    /// `None` when it does (then [`Self::judge`], off the executor). Reads no layer, so an
    /// async caller runs it in place instead of paying a thread hand-off per finding.
    #[must_use]
    pub fn judge_without_layers(
        &self,
        finding: &Finding,
        image: &str,
        allowlist: &Allowlist,
    ) -> Option<evidence::FindingReport> {
        if let Self::Found { state, prefixes } = self {
            let known = prefixes.read().unwrap_or_else(PoisonError::into_inner);
            if !state.missing_prefixes([finding], &known).is_empty() {
                return None;
            }
        }
        Some(self.judge_with_known_prefixes(finding, image, allowlist))
    }

    /// Judges a finding against this image. Blocking: a partial hash needs prefix digests,
    /// which read the image's layers; only a finding that needs new ones computes them
    /// (outside the lock) and adds them.
    #[must_use]
    pub fn judge(
        &self,
        resolver: &evidence::Resolver,
        finding: &Finding,
        image: &str,
        allowlist: &Allowlist,
    ) -> evidence::FindingReport {
        if let Self::Found { state, prefixes } = self {
            let missing = {
                let known = prefixes.read().unwrap_or_else(PoisonError::into_inner);
                state.missing_prefixes([finding], &known)
            };
            if !missing.is_empty() {
                let computed = resolver.compute_prefixes(state, &missing);
                prefixes
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(computed);
            }
        }
        self.judge_with_known_prefixes(finding, image, allowlist)
    }

    /// Judges with the prefix digests computed so far, under a shared lock.
    fn judge_with_known_prefixes(
        &self,
        finding: &Finding,
        image: &str,
        allowlist: &Allowlist,
    ) -> evidence::FindingReport {
        match self {
            Self::Refused(reason) => evidence::FindingReport::unresolved(
                finding,
                Some(image.to_owned()),
                reason,
                allowlist,
            ),
            Self::Found { state, prefixes } => {
                let known = prefixes.read().unwrap_or_else(PoisonError::into_inner);
                state.index().judge(finding, &known, allowlist)
            }
        }
    }
}

/// The cache.
pub struct ManifestCache {
    images: moka::future::Cache<ImageQuery, Arc<Resolved>>,
    resolver: Arc<evidence::Resolver>,
    metrics: Arc<Metrics>,
}

impl ManifestCache {
    /// At most `capacity` images, each kept `ttl` after it was resolved.
    #[must_use]
    pub fn new(
        resolver: evidence::Resolver,
        capacity: u64,
        ttl: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            images: moka::future::Cache::builder()
                .max_capacity(capacity.max(1))
                .time_to_live(ttl)
                .build(),
            resolver: Arc::new(resolver),
            metrics,
        }
    }

    /// The resolver, for the prefix digests judging may need.
    #[must_use]
    pub fn resolver(&self) -> Arc<evidence::Resolver> {
        Arc::clone(&self.resolver)
    }

    /// The image's resolution; `Err` with the reason when it failed transiently.
    ///
    /// # Errors
    /// The registry could not be reached (the caller answers 503).
    pub async fn get(&self, query: &ImageQuery) -> Result<Arc<Resolved>, String> {
        let resolver = Arc::clone(&self.resolver);
        let owned = query.clone();
        let entry = self
            .images
            .entry(query.clone())
            .or_try_insert_with(async move {
                let outcome = tokio::task::spawn_blocking(move || resolver.resolve(&owned))
                    .await
                    .map_err(|error| format!("resolving the image failed: {error}"))?;
                match outcome {
                    Ok(state) => Ok(Arc::new(Resolved::Found {
                        state,
                        prefixes: RwLock::new(ImagePrefixes::default()),
                    })),
                    Err(error) if error.is_transient() => Err(error.reason()),
                    Err(error) => Ok(Arc::new(Resolved::Refused(error.reason()))),
                }
            })
            .await;
        match entry {
            Ok(entry) => {
                if entry.is_fresh() {
                    self.metrics.cache_misses.inc();
                    if matches!(entry.value().as_ref(), Resolved::Refused(_)) {
                        self.metrics.fetch_errors.inc();
                    }
                } else {
                    self.metrics.cache_hits.inc();
                }
                Ok(entry.into_value())
            }
            Err(reason) => {
                self.metrics.fetch_errors.inc();
                Err(reason.as_ref().clone())
            }
        }
    }
}
