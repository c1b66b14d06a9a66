//! The durations the loop scales down. Every duration of the generated files that the loop's
//! timing depends on is divided by one factor, so the races between them are the ones the
//! platform has at full scale (an alert that resolves after the runbook's deadline at full scale
//! does so in the loop too). A scaled value never goes below one second. Each change is
//! returned as a line for the run's output and the README.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// A Prometheus duration (`30s`, `5m`, `1h30m`, `12h`, `3d`).
pub fn parse(text: &str) -> Result<Duration> {
    let mut total = 0u64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number
            .parse()
            .with_context(|| format!("duration {text:?}"))?;
        number.clear();
        let unit = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                total += n / 1000;
                any = true;
                continue;
            }
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            'y' => 31_536_000,
            _ => bail!("duration {text:?}: unknown unit {c:?}"),
        };
        total += n * unit;
        any = true;
    }
    if !number.is_empty() || !any {
        bail!("duration {text:?}: expected a number and a unit");
    }
    Ok(Duration::from_secs(total))
}

/// `d / factor`, at least one second, whole seconds.
pub fn scaled(d: Duration, factor: u32) -> Duration {
    Duration::from_secs((d.as_secs() / u64::from(factor)).max(1))
}

/// `Ns`.
pub fn format(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

fn scale_text(text: &str, factor: u32) -> Result<String> {
    Ok(format(scaled(parse(text)?, factor)))
}

/// Scales the range selectors of a PromQL expression (`[5m]` -> `[10s]`); a window never
/// goes below `min_window` (four scrapes: `rate` needs two samples).
pub fn expr(text: &str, factor: u32, min_window: Duration) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest
            .find(']')
            .with_context(|| format!("unclosed [ in {text}"))?;
        let inner = &rest[..close];
        let scaled_inner = inner
            .split(':')
            .map(|part| {
                if part.is_empty() {
                    Ok(String::new())
                } else {
                    parse(part).map(|d| format(scaled(d, factor).max(min_window)))
                }
            })
            .collect::<Result<Vec<_>>>()?
            .join(":");
        out.push_str(&scaled_inner);
        rest = &rest[close..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A rule file: each group's `interval`, each rule's `for` and the range selectors of its
/// `expr`. Returns the file and a line per alerting rule changed.
pub fn rules(
    text: &str,
    file: &str,
    factor: u32,
    min_window: Duration,
) -> Result<(String, Vec<String>)> {
    let mut doc: Yaml = serde_norway::from_str(text).with_context(|| format!("parse {file}"))?;
    let mut changes = Vec::new();
    let groups = doc["groups"]
        .as_sequence_mut()
        .with_context(|| format!("{file}: no groups"))?;
    for group in groups {
        let name = group["name"].as_str().unwrap_or_default().to_owned();
        if let Some(interval) = group["interval"].as_str().map(str::to_owned) {
            let new = scale_text(&interval, factor)?;
            changes.push(format!("{file}: group {name} interval {interval} -> {new}"));
            group["interval"] = Yaml::String(new);
        }
        for rule in group["rules"].as_sequence_mut().into_iter().flatten() {
            let id = rule["alert"]
                .as_str()
                .or(rule["record"].as_str())
                .unwrap_or_default()
                .to_owned();
            let mut what = Vec::new();
            if let Some(f) = rule["for"].as_str().map(str::to_owned) {
                let new = scale_text(&f, factor)?;
                what.push(format!("for {f} -> {new}"));
                rule["for"] = Yaml::String(new);
            }
            if let Some(e) = rule["expr"].as_str().map(str::to_owned) {
                let new = expr(&e, factor, min_window)?;
                if new != e {
                    what.push("range selectors scaled".to_owned());
                    rule["expr"] = Yaml::String(new);
                }
            }
            if !what.is_empty() && rule["alert"].is_string() {
                changes.push(format!("{file}: {id}: {}", what.join(", ")));
            }
        }
    }
    Ok((serde_norway::to_string(&doc)?, changes))
}

/// The Alertmanager configuration: the receiver's URL to `url` and its token file to
/// `token_file` (addresses), the route's waits and the resolve timeout (durations).
pub fn alertmanager(
    text: &str,
    factor: u32,
    url: &str,
    token_file: &str,
) -> Result<(String, Vec<String>)> {
    let mut doc: Yaml = serde_norway::from_str(text).context("parse alertmanager.yaml")?;
    let mut changes = Vec::new();
    if let Some(t) = doc["global"]["resolve_timeout"].as_str().map(str::to_owned) {
        let new = scale_text(&t, factor)?;
        changes.push(format!(
            "alertmanager.yaml: global.resolve_timeout {t} -> {new}"
        ));
        doc["global"]["resolve_timeout"] = Yaml::String(new);
    }
    fn route(r: &mut Yaml, path: &str, factor: u32, changes: &mut Vec<String>) -> Result<()> {
        for key in ["group_wait", "group_interval", "repeat_interval"] {
            if let Some(t) = r[key].as_str().map(str::to_owned) {
                let new = scale_text(&t, factor)?;
                changes.push(format!("alertmanager.yaml: {path}.{key} {t} -> {new}"));
                r[key] = Yaml::String(new);
            }
        }
        if let Some(children) = r["routes"].as_sequence_mut() {
            for (i, c) in children.iter_mut().enumerate() {
                route(c, &format!("{path}.routes[{i}]"), factor, changes)?;
            }
        }
        Ok(())
    }
    route(&mut doc["route"], "route", factor, &mut changes)?;
    let mut hooks = 0;
    for receiver in doc["receivers"].as_sequence_mut().into_iter().flatten() {
        let name = receiver["name"].as_str().unwrap_or_default().to_owned();
        for hook in receiver["webhook_configs"]
            .as_sequence_mut()
            .into_iter()
            .flatten()
        {
            let old = hook["url"].as_str().unwrap_or_default().to_owned();
            hook["url"] = Yaml::String(url.to_owned());
            changes.push(format!(
                "alertmanager.yaml: receiver {name} url {old} -> {url}"
            ));
            let auth = &mut hook["http_config"]["authorization"];
            if let Some(old) = auth["credentials_file"].as_str().map(str::to_owned) {
                auth["credentials_file"] = Yaml::String(token_file.to_owned());
                changes.push(format!(
                    "alertmanager.yaml: receiver {name} credentials_file {old} -> {token_file}"
                ));
            }
            hooks += 1;
        }
    }
    if hooks == 0 {
        bail!("alertmanager.yaml: no webhook receiver to point at the loop's webhook");
    }
    Ok((serde_norway::to_string(&doc)?, changes))
}

/// The state machine definition: each `Wait` state's `Seconds`.
pub fn definition(definition: &mut Json, factor: u32) -> Vec<String> {
    let mut changes = Vec::new();
    if let Some(states) = definition["States"].as_object_mut() {
        for (name, state) in states {
            if state["Type"] == "Wait"
                && let Some(s) = state["Seconds"].as_u64()
            {
                let new = scaled(Duration::from_secs(s), factor).as_secs();
                state["Seconds"] = Json::from(new);
                changes.push(format!(
                    "state machine: {name} Seconds {s} -> {new} (the verification loop's attempts are unchanged)"
                ));
            }
            // A wait for a human (a task token): its timeout, and the expiry the payload
            // tells the approval function (the links').
            if state["Resource"]
                .as_str()
                .is_some_and(|r| r.ends_with(".waitForTaskToken"))
                && let Some(s) = state["TimeoutSeconds"].as_u64()
            {
                let new = scaled(Duration::from_secs(s), factor).as_secs();
                state["TimeoutSeconds"] = Json::from(new);
                if state["Parameters"]["Payload"]["timeout_seconds"].is_u64() {
                    state["Parameters"]["Payload"]["timeout_seconds"] = Json::from(new);
                }
                changes.push(format!(
                    "state machine: {name} TimeoutSeconds {s} -> {new} (the approval deadline, and its links' expiry)"
                ));
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_scale() {
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("12h").unwrap(), Duration::from_secs(43_200));
        assert!(parse("5").is_err());
        assert!(parse("5x").is_err());
        assert_eq!(
            scaled(Duration::from_secs(300), 30),
            Duration::from_secs(10)
        );
        assert_eq!(scaled(Duration::from_secs(15), 30), Duration::from_secs(1));
    }

    #[test]
    fn range_selectors_scale_with_a_floor() {
        let e = "sum(rate(a{job=\"x\"}[5m])) / sum(rate(b[1h])) > 0.05";
        assert_eq!(
            expr(e, 30, Duration::from_secs(4)).unwrap(),
            "sum(rate(a{job=\"x\"}[10s])) / sum(rate(b[120s])) > 0.05"
        );
        assert_eq!(
            expr("rate(a[1m])", 30, Duration::from_secs(4)).unwrap(),
            "rate(a[4s])"
        );
    }

    #[test]
    fn alertmanager_points_the_receiver_at_the_loop() {
        let text = "global:\n  resolve_timeout: 5m\nroute:\n  receiver: r\n  group_wait: 30s\n  group_interval: 5m\nreceivers:\n- name: r\n  webhook_configs:\n  - url: https://x/webhook/alertmanager\n    http_config:\n      authorization:\n        credentials_file: /etc/t\n";
        let (out, changes) = alertmanager(text, 30, "http://127.0.0.1:1/w", "/tmp/t").unwrap();
        let doc: Yaml = serde_norway::from_str(&out).unwrap();
        assert_eq!(doc["route"]["group_wait"].as_str(), Some("1s"));
        assert_eq!(doc["route"]["group_interval"].as_str(), Some("10s"));
        assert_eq!(
            doc["receivers"][0]["webhook_configs"][0]["url"].as_str(),
            Some("http://127.0.0.1:1/w")
        );
        assert_eq!(changes.len(), 5, "{changes:?}");
    }
}
