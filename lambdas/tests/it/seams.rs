//! The webhook senders' exact requests, read from the generated files of every environment
//! (`out/<env>/`), through every auth layer of the generated API and the real alert_ingest
//! handler, against moto. Part of the seam check (`synth/tests/seams.rs` has the static joints).
//!
//! - Alertmanager: the URL, the `Authorization: Bearer` header read from the `credentials_file`
//!   of `monitoring/alertmanager.yaml` (a temp file here), its fixed headers, a firing payload.
//! - Datadog: `datadog/webhook.json` as the sync script uploads it: the URL, `custom_headers`
//!   with the token substituted, the payload template rendered with a notification's values.
//! - The API's layers, from `sre-pipeline.template.json`: the route must exist; a method that
//!   requires an API key answers 403 without `x-api-key`; an authorizer the senders cannot
//!   satisfy answers 401. Then alert_ingest checks the bearer token against the secret the
//!   stack generates (created in moto with the token), and publishes to a moto bus.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lambda_http::{Body, Request};
use lambdas::ingest::handle;
use lambdas::ingest::token::TokenSource;
use platform_contract::webhook::datadog::{PAYLOAD_TEMPLATE, TOKEN_PLACEHOLDER};
use serde_json::Value;

use crate::moto::{make_ingest, wiring};
use crate::support::{self, fixture, moto_url, unique};

fn env_dir(env: &str) -> PathBuf {
    std::env::var_os("SEAMS_OUT_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../out"),
            PathBuf::from,
        )
        .join(env)
}

fn read(env: &str, path: &str) -> String {
    let p = env_dir(env).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A request as its sender puts it on the wire.
#[derive(Debug)]
struct Sent {
    url: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// What Alertmanager 0.25 sends for the generated receiver, with `token_file` standing in for
/// the mounted `credentials_file` (whose content it sends, trimmed of surrounding space).
fn alertmanager_request(env: &str, token_file: &std::path::Path) -> Sent {
    let am: Value = serde_norway::from_str(&read(env, "monitoring/alertmanager.yaml")).unwrap();
    let hook = am["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["webhook_configs"].get(0))
        .expect("a webhook receiver")
        .clone();
    let mut headers = BTreeMap::from([
        ("content-type".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), "Alertmanager/0.25.0".to_owned()),
    ]);
    let auth = &hook["http_config"]["authorization"];
    if auth.is_object() {
        assert!(
            auth["credentials_file"].as_str().is_some(),
            "{env}: the token must come from a file, never inline"
        );
        let token = std::fs::read_to_string(token_file).unwrap();
        headers.insert(
            "authorization".into(),
            format!(
                "{} {}",
                auth["type"].as_str().unwrap_or("Bearer"),
                token.trim()
            ),
        );
    }
    Sent {
        url: hook["url"].as_str().unwrap().to_owned(),
        headers,
        body: fixture("alertmanager_firing.json"),
    }
}

/// What Datadog sends for the generated webhook once the sync script put the token in.
fn datadog_request(env: &str, token: &str) -> Sent {
    let dd: Value = serde_json::from_str(&read(env, "datadog/webhook.json")).unwrap();
    let custom = dd["custom_headers"]
        .as_str()
        .unwrap()
        .replace(TOKEN_PLACEHOLDER, token);
    let custom: BTreeMap<String, String> = serde_json::from_str(&custom).unwrap();
    let mut headers: BTreeMap<String, String> = custom
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    headers.insert("content-type".into(), "application/json".into());
    assert_eq!(
        dd["payload"], PAYLOAD_TEMPLATE,
        "{env}: the uploaded payload is the contract's template"
    );
    let mut body = dd["payload"].as_str().unwrap().to_owned();
    for (var, value) in [
        ("$ALERT_CYCLE_KEY", "7003285619376598017"),
        ("$ALERT_TRANSITION", "Triggered"),
        (
            "$ALERT_TITLE",
            "[Triggered on {service:checkout}] checkout error rate",
        ),
        ("$ALERT_PRIORITY", "P1"),
        ("$ALERT_STATUS", "Error rate above 5%"),
        ("$ALERT_SCOPE", "service:checkout"),
        ("$ALERT_ID", "123456"),
        (
            "$EVENT_MSG",
            "checkout error rate high @webhook-sre-platform",
        ),
        ("$LAST_UPDATED", "1741944420000"),
        ("$DATE", "1741944420000"),
        (
            "$TAGS",
            "env:dev,service:checkout,severity:critical,runbook_action:enable_degraded_mode,runbook_target:apps/checkout",
        ),
        ("$LINK", "https://app.datadoghq.com/event/event?id=1"),
        ("$ORG_ID", "42"),
        ("$ORG_NAME", "example"),
        ("$ID", "7003285619376598017"),
    ] {
        body = body.replace(var, value);
    }
    Sent {
        url: dd["url"].as_str().unwrap().to_owned(),
        headers,
        body,
    }
}

/// The generated API's layers in front of the function: the request passes (and becomes the
/// proxy event alert_ingest gets), or API Gateway answers with its status.
fn through_api(env: &str, sent: &Sent) -> Result<Request, u16> {
    let t: Value = serde_json::from_str(&read(env, "sre-pipeline.template.json")).unwrap();
    let resources = t["Resources"].as_object().unwrap();
    let (host, path) = sent
        .url
        .strip_prefix("https://")
        .and_then(|r| r.split_once('/'))
        .unwrap();
    let served = resources.values().any(|r| {
        r["Type"] == "AWS::ApiGateway::DomainName" && r["Properties"]["DomainName"] == host
    });
    if !served {
        // DNS would not even resolve to this API.
        return Err(404);
    }
    let path = format!("/{path}");
    let path_of = |id: &str| {
        let mut parts = Vec::new();
        let mut id = id.to_owned();
        while let Some(r) = resources.get(&id) {
            if r["Type"] != "AWS::ApiGateway::Resource" {
                break;
            }
            parts.push(r["Properties"]["PathPart"].as_str().unwrap().to_owned());
            id = r["Properties"]["ParentId"]["Ref"]
                .as_str()
                .unwrap_or("")
                .to_owned();
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    };
    let method = resources
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGateway::Method")
        .find(|m| {
            m["Properties"]["HttpMethod"] == "POST"
                && path_of(m["Properties"]["ResourceId"]["Ref"].as_str().unwrap()) == path
        })
        .ok_or(404u16)?;
    let p = &method["Properties"];
    if p["AuthorizationType"] != "NONE" {
        return Err(401);
    }
    if p["ApiKeyRequired"] == true && !sent.headers.contains_key("x-api-key") {
        return Err(403);
    }
    let mut builder = http::Request::builder().method("POST").uri(&sent.url);
    for (k, v) in &sent.headers {
        builder = builder.header(k, v);
    }
    Ok(builder.body(Body::Text(sent.body.clone())).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_senders_exact_requests_pass_every_auth_layer() {
    let config = support::aws(moto_url()).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let wiring = wiring(&config).await;
    let dir = tempfile_dir();
    for env in ["dev", "staging", "prod"] {
        // The stack generates the token; here moto's secret holds one, and Alertmanager's
        // mounted file holds the same (what the sync script writes).
        let token = unique("tok");
        let secret = secrets
            .create_secret()
            .name(unique("sre-platform-webhook-token"))
            .secret_string(&token)
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
        let token_file = dir.join(format!("{env}-token"));
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        let ingest = make_ingest(
            &config,
            &wiring.bus,
            TokenSource::Secret {
                client: secrets.clone(),
                id: secret,
            },
        );
        for (sender, sent) in [
            ("Alertmanager", alertmanager_request(env, &token_file)),
            ("Datadog", datadog_request(env, &token)),
        ] {
            let request = through_api(env, &sent).unwrap_or_else(|status| {
                panic!(
                    "{env}: API Gateway answers {sender}'s request {status}: POST {} with headers {:?}",
                    sent.url,
                    sent.headers.keys().collect::<Vec<_>>()
                )
            });
            let response = handle(&ingest, request).await;
            let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
            assert_eq!(
                response.status().as_u16(),
                202,
                "{env}: alert_ingest answers {sender}: {body}"
            );
            // A sender with another token is refused by the bearer check.
            let mut forged = sent;
            forged
                .headers
                .insert("authorization".into(), "Bearer not-the-token".into());
            let response = handle(&ingest, through_api(env, &forged).unwrap()).await;
            assert_eq!(response.status().as_u16(), 401, "{env}: {sender} forged");
        }
        let events = wiring.drain().await;
        assert!(
            events.len() >= 2,
            "{env}: both senders' alerts are on the bus: {events:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("seams"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every generated Datadog monitor, as Datadog notifies its webhook when it triggers (the
/// contract's payload template rendered with the monitor's name, priority and tags), goes
/// through alert_ingest's normalization into an `incident.created` that names the monitor's
/// severity and the runbook its tags declare: the same runbook as the Prometheus alert.
#[test]
fn every_datadog_monitor_reaches_its_runbook() {
    use lambdas::ingest::normalize::{Sender, normalize};
    use platform_contract::events::{DetailType, IncidentCreated};
    let mut checked = 0;
    for env in ["dev", "staging", "prod"] {
        let dir = env_dir(env).join("datadog/monitors");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let name = m["name"].as_str().unwrap();
            let tags: Vec<&str> = m["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert!(
                m["message"]
                    .as_str()
                    .unwrap()
                    .ends_with("@webhook-sre-platform"),
                "{env}: {name} notifies the platform's webhook"
            );
            let tag = |key: &str| {
                tags.iter()
                    .find_map(|t| t.strip_prefix(&format!("{key}:")))
                    .unwrap_or_else(|| panic!("{env}: {name} has no {key} tag"))
            };
            let mut body = PAYLOAD_TEMPLATE.to_owned();
            let title = format!("[Triggered on {{kube_deployment:checkout}}] {name}");
            let priority = format!("P{}", m["priority"]);
            let joined = format!("{},kube_deployment:checkout", tags.join(","));
            for (var, value) in [
                ("$ALERT_CYCLE_KEY", "7003285619376598017"),
                ("$ALERT_TRANSITION", "Triggered"),
                ("$ALERT_TITLE", title.as_str()),
                ("$ALERT_PRIORITY", priority.as_str()),
                ("$ALERT_STATUS", name),
                ("$ALERT_SCOPE", "kube_deployment:checkout"),
                ("$ALERT_ID", "123456"),
                ("$EVENT_MSG", "from the monitor's message"),
                ("$LAST_UPDATED", "1741944420000"),
                ("$DATE", "1741944420000"),
                ("$TAGS", joined.as_str()),
                ("$LINK", "https://app.datadoghq.com/event/event?id=1"),
                ("$ORG_ID", "42"),
                ("$ORG_NAME", "example"),
                ("$ID", "7003285619376598017"),
            ] {
                body = body.replace(var, value);
            }
            let out = normalize(Sender::Datadog, body.as_bytes(), &support::enrichment())
                .unwrap_or_else(|e| panic!("{env}: {name}: {e:?}"));
            assert_eq!(out.events.len(), 1);
            let event = &out.events[0];
            assert_eq!(event.detail_type, DetailType::IncidentCreated);
            let detail: IncidentCreated = serde_json::from_str(&event.detail).unwrap();
            assert_eq!(detail.alert_name, name, "{env}");
            assert_eq!(detail.severity.as_str(), tag("severity"), "{env}: {name}");
            if tags.iter().any(|t| t.starts_with("runbook_action:")) {
                let runbook = detail
                    .runbook
                    .unwrap_or_else(|| panic!("{env}: {name} reached no runbook"));
                assert_eq!(
                    runbook.action.as_str(),
                    tag("runbook_action"),
                    "{env}: {name}"
                );
                let target = format!("{}/{}", runbook.target.namespace, runbook.target.name);
                assert_eq!(target, tag("runbook_target"), "{env}: {name}");
                checked += 1;
            } else {
                assert!(detail.runbook.is_none(), "{env}: {name}");
            }
        }
    }
    assert!(checked >= 9, "{checked} monitors with a runbook");
}

/// Every alert the promtool tests expect to fire (`out/<env>/monitoring/tests/`), with the
/// labels and annotations Prometheus renders for it (a node alert's `runbook_target` is the
/// node), sent as Alertmanager sends it, goes through alert_ingest's normalization into an
/// `incident.created` naming the runbook its labels declare.
#[test]
fn every_firing_alert_reaches_its_runbook() {
    use lambdas::ingest::normalize::{Sender, normalize};
    use platform_contract::events::{DetailType, IncidentCreated};
    let mut checked = BTreeMap::<String, usize>::new();
    for env in ["dev", "staging", "prod"] {
        let dir = env_dir(env).join("monitoring/tests");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let file: Value =
                serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for test in file["tests"].as_array().unwrap() {
                for t in test["alert_rule_test"].as_array().into_iter().flatten() {
                    let alertname = t["alertname"].as_str().unwrap();
                    for exp in t["exp_alerts"].as_array().into_iter().flatten() {
                        let mut labels = exp["exp_labels"].clone();
                        labels["alertname"] = Value::from(alertname);
                        let mut payload: Value =
                            serde_json::from_str(&fixture("alertmanager_firing.json")).unwrap();
                        payload["commonLabels"] = labels.clone();
                        payload["groupLabels"] = serde_json::json!({ "alertname": alertname });
                        payload["commonAnnotations"] = exp["exp_annotations"].clone();
                        let mut alert = payload["alerts"][0].clone();
                        alert["labels"] = labels.clone();
                        alert["annotations"] = exp["exp_annotations"].clone();
                        payload["alerts"] = Value::Array(vec![alert]);
                        let out = normalize(
                            Sender::Alertmanager,
                            payload.to_string().as_bytes(),
                            &support::enrichment(),
                        )
                        .unwrap_or_else(|e| panic!("{env}: {alertname}: {e:?}"));
                        let event = &out.events[0];
                        assert_eq!(event.detail_type, DetailType::IncidentCreated);
                        let detail: IncidentCreated = serde_json::from_str(&event.detail).unwrap();
                        assert_eq!(detail.alert_name, alertname);
                        match labels["runbook_action"].as_str() {
                            Some(action) => {
                                let rb = detail.runbook.unwrap_or_else(|| {
                                    panic!("{env}: {alertname} reached no runbook")
                                });
                                assert_eq!(rb.action.as_str(), action, "{env}: {alertname}");
                                let target = labels["runbook_target"].as_str().unwrap();
                                let got = if rb.target.namespace.is_empty() {
                                    rb.target.name.clone()
                                } else {
                                    format!("{}/{}", rb.target.namespace, rb.target.name)
                                };
                                assert_eq!(got, target, "{env}: {alertname}");
                                assert!(!target.contains("{{"), "{env}: {alertname}: {target}");
                            }
                            None => assert!(detail.runbook.is_none(), "{env}: {alertname}"),
                        }
                        *checked.entry(alertname.to_owned()).or_default() += 1;
                    }
                }
            }
        }
    }
    assert!(checked.contains_key("NodeNotReady"), "{checked:?}");
    assert!(checked.contains_key("CheckoutHighErrorRate"), "{checked:?}");
}
