//! Where needs-action verdicts go: to the [`Event`] channel the CLI prints as JSON lines, and,
//! when configured, to a Slack-compatible webhook (`{"text": …}`), retried with backoff on a
//! task of its own so a slow webhook never holds up a finding's answer. The webhook URL is a
//! secret (a Slack URL is its own credential): it is never logged.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::auth::Secret;
use super::metrics::Metrics;

/// What the service tells its operator; the CLI prints these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A report that needs action, as one JSON line (stdout).
    Alert(String),
    /// A log line (stderr).
    Log(String),
}

/// Attempts per webhook alert before it is counted as failed.
const WEBHOOK_ATTEMPTS: u32 = 5;
/// Alerts in flight to the webhook at once; past it new ones wait, never pile up unbounded.
const WEBHOOK_IN_FLIGHT: usize = 32;
/// Wait before the first retry; doubled at each further one.
const WEBHOOK_FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Sends alerts to the operator and the webhook.
#[derive(Clone)]
pub struct Notifier {
    events: mpsc::Sender<Event>,
    webhook: Option<Webhook>,
    metrics: Arc<Metrics>,
}

#[derive(Clone)]
struct Webhook {
    url: Arc<Secret>,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
}

impl Notifier {
    /// Alerts go to `events`, and to the webhook at `webhook_url` when there is one.
    #[must_use]
    pub fn new(
        events: mpsc::Sender<Event>,
        webhook_url: Option<Secret>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            events,
            webhook: webhook_url.map(|url| Webhook {
                url: Arc::new(url),
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default(),
                in_flight: Arc::new(Semaphore::new(WEBHOOK_IN_FLIGHT)),
            }),
            metrics,
        }
    }

    /// Logs a line for the operator.
    pub async fn log(&self, line: String) {
        // The receiver lives as long as the service; a closed channel means it is stopping.
        let _ = self.events.send(Event::Log(line)).await;
    }

    /// Reports a needs-action verdict: the JSON line to the operator, `summary` to the webhook.
    pub async fn alert(&self, json_line: String, summary: String) {
        let _ = self.events.send(Event::Alert(json_line)).await;
        let Some(webhook) = self.webhook.clone() else {
            return;
        };
        let Ok(permit) = webhook.in_flight.clone().acquire_owned().await else {
            return;
        };
        let events = self.events.clone();
        let metrics = Arc::clone(&self.metrics);
        tokio::spawn(async move {
            let _permit = permit;
            let body = serde_json::json!({ "text": summary });
            let mut backoff = WEBHOOK_FIRST_BACKOFF;
            let mut last = String::new();
            for attempt in 1..=WEBHOOK_ATTEMPTS {
                // Checked to be UTF-8 when the settings were made.
                let url = String::from_utf8_lossy(webhook.url.expose());
                match webhook.client.post(url.as_ref()).json(&body).send().await {
                    Ok(response) if response.status().is_success() => return,
                    // Never the URL: it is the credential.
                    Ok(response) => last = format!("the webhook answered {}", response.status()),
                    Err(error) => {
                        last = format!("the webhook is unreachable: {}", error.without_url())
                    }
                }
                if attempt < WEBHOOK_ATTEMPTS {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
            metrics.webhook_failures.inc();
            let _ = events
                .send(Event::Log(format!(
                    "alert not delivered after {WEBHOOK_ATTEMPTS} attempts: {last}"
                )))
                .await;
        });
    }
}
