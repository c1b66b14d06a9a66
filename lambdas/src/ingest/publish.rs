//! `PutEvents` to the platform bus: batches of at most 10 entries and 256 KB, failed entries
//! retried with exponential backoff.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::normalize::{Event, MAX_ENTRY_BYTES};

/// EventBridge's limit of entries per `PutEvents` call.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// How failed entries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per batch, the first included.
    pub attempts: u32,
    /// Delay before the second attempt; doubles after each.
    pub base_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 100 ms doubling up to 2 s: at most ~3.1 s of waiting, well inside API
    /// Gateway's 29 s.
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// Events that could not be delivered after every attempt.
#[derive(Debug, thiserror::Error)]
#[error(
    "{undelivered} of {total} events not delivered to bus {bus} after {attempts} attempts: {last_error}"
)]
pub struct PublishError {
    /// The bus.
    pub bus: String,
    /// Events not delivered.
    pub undelivered: usize,
    /// Events in the request.
    pub total: usize,
    /// Attempts made for the failing batch.
    pub attempts: u32,
    /// The last error seen.
    pub last_error: String,
}

/// Sends events to one bus.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    retry: RetryPolicy,
}

/// Split events into `PutEvents` batches: at most [`MAX_BATCH_ENTRIES`] entries and
/// [`MAX_ENTRY_BYTES`] in total, order kept.
pub fn batches(events: &[Event]) -> Vec<&[Event]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, event) in events.iter().enumerate() {
        let n = event.entry_size();
        if i > start && (i - start == MAX_BATCH_ENTRIES || size + n > MAX_ENTRY_BYTES) {
            out.push(&events[start..i]);
            start = i;
            size = 0;
        }
        size += n;
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}

impl Publisher {
    /// A publisher to `bus`.
    pub fn new(
        client: aws_sdk_eventbridge::Client,
        bus: impl Into<String>,
        retry: RetryPolicy,
    ) -> Self {
        Publisher {
            client,
            bus: bus.into(),
            retry,
        }
    }

    /// The bus name.
    pub fn bus(&self) -> &str {
        &self.bus
    }

    fn entry(&self, event: &Event) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(event.source.as_str())
            .detail_type(event.detail_type.as_str())
            .detail(&event.detail)
            .build()
    }

    /// Deliver every event, or say how many could not be.
    pub async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        for batch in batches(events) {
            self.publish_batch(batch, events.len()).await?;
        }
        Ok(())
    }

    async fn publish_batch(&self, batch: &[Event], total: usize) -> Result<(), PublishError> {
        let mut pending: Vec<&Event> = batch.iter().collect();
        let mut delay = self.retry.base_delay;
        let mut last_error = String::new();
        for attempt in 1..=self.retry.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.retry.max_delay);
            }
            let entries = pending.iter().map(|e| self.entry(e)).collect::<Vec<_>>();
            match self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    if out.failed_entry_count() == 0 {
                        return Ok(());
                    }
                    // Results are in request order; keep only the entries that failed.
                    let results = out.entries();
                    let mut still = Vec::new();
                    for (i, event) in pending.iter().enumerate() {
                        match results.get(i) {
                            Some(r) if r.error_code().is_none() && r.event_id().is_some() => {}
                            Some(r) => {
                                last_error = format!(
                                    "{}: {}",
                                    r.error_code().unwrap_or("no event id"),
                                    r.error_message().unwrap_or_default()
                                );
                                still.push(*event);
                            }
                            None => still.push(*event),
                        }
                    }
                    tracing::warn!(
                        attempt,
                        failed = still.len(),
                        error = %last_error,
                        "PutEvents: some entries failed"
                    );
                    pending = still;
                    if pending.is_empty() {
                        return Ok(());
                    }
                }
                Err(error) => {
                    last_error = format!(
                        "{}",
                        aws_sdk_eventbridge::error::DisplayErrorContext(&error)
                    );
                    tracing::warn!(attempt, error = %last_error, "{}", platform_contract::telemetry::LOG_PUT_EVENTS_FAILED);
                }
            }
        }
        Err(PublishError {
            bus: self.bus.clone(),
            undelivered: pending.len(),
            total,
            attempts: self.retry.attempts,
            last_error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform_contract::events::{DetailType, Source};

    fn event(size: usize) -> Event {
        Event {
            incident_id: "inc".into(),
            source: Source::Alertmanager,
            detail_type: DetailType::IncidentCreated,
            detail: "x".repeat(size),
        }
    }

    #[test]
    fn batches_respect_count_and_size() {
        let events: Vec<Event> = (0..25).map(|_| event(100)).collect();
        let sizes: Vec<usize> = batches(&events).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);

        let events: Vec<Event> = (0..5).map(|_| event(100 * 1024)).collect();
        let split = batches(&events);
        assert_eq!(split.iter().map(|b| b.len()).collect::<Vec<_>>(), [2, 2, 1]);
        for batch in split {
            assert!(batch.iter().map(Event::entry_size).sum::<usize>() <= MAX_ENTRY_BYTES);
        }
        assert!(batches(&[]).is_empty());
    }
}
