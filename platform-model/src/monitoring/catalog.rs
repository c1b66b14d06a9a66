//! The catalog of alert -> runbook: every alerting rule of the platform's services, with the
//! bounds the runbook passes.

use crate::Error;
use crate::contract::Severity;
use crate::contract::runbook::{Action, RunbookRef};
use crate::service::Service;

/// One alert of the catalog: its name, severity and runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The alert name (`alertname`).
    pub alert: String,
    /// Its severity.
    pub severity: Severity,
    /// The runbook the platform runs, if any (`None`: notify only).
    pub runbook: Option<RunbookRef>,
    /// For `scale_deployment`: the replicas the runbook may scale to at most (the service's
    /// `workload.max_replicas`, also its autoscaler's maximum).
    pub max_replicas: Option<u32>,
}

/// The catalog: every alerting rule of `services` (their alerts and SLO burn-rate alerts),
/// once per name and severity. The runbook state machine branches on the same services;
/// `alert_ingest` reads the mapping from the alert's labels.
///
/// ```
/// use platform_model::contract::runbook::Action;
/// use platform_model::monitoring::catalog;
/// use platform_model::settings::{Environment, Settings};
///
/// let settings = Settings::embedded(Environment::Prod).unwrap();
/// let checkout = platform_model::platform::checkout(&settings)?;
/// let entries = catalog(&[checkout])?;
/// let down = entries.iter().find(|e| e.alert == "CheckoutDown").unwrap();
/// assert_eq!(down.runbook.as_ref().unwrap().action, Action::RestartDeployment);
/// let slow = entries.iter().find(|e| e.alert == "CheckoutHighLatency").unwrap();
/// assert_eq!(slow.max_replicas, Some(10));
/// # Ok::<(), platform_model::Error>(())
/// ```
pub fn catalog(services: &[Service]) -> Result<Vec<CatalogEntry>, Error> {
    let mut out: Vec<CatalogEntry> = Vec::new();
    for svc in services {
        for set in svc.rule_sets()? {
            for a in &set.alerts {
                let runbook = a.runbook_ref().cloned();
                let max_replicas = runbook
                    .as_ref()
                    .filter(|r| r.action == Action::ScaleDeployment)
                    .and_then(|r| svc.bounds(r.action))
                    .and_then(|b| b.max_replicas);
                let entry = CatalogEntry {
                    alert: a.name().to_owned(),
                    severity: a.severity_level(),
                    runbook,
                    max_replicas,
                };
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
    }
    Ok(out)
}
