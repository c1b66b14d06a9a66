//! The loopback stand-ins for the hops nothing here can run, each recording what crossed it:
//!
//! - [`RuntimeApi`]: the Lambda Runtime API a real bootstrap polls (`AWS_LAMBDA_RUNTIME_API`),
//!   one per function: invocations go in, the function's response or error comes out.
//! - [`webhook`]: API Gateway in front of alert_ingest: the REST API's proxy event, the
//!   function's answer as the HTTP answer, 502 when the function fails or dies (what API
//!   Gateway answers for a Lambda error).
//! - [`Proxy`]: a forwarding proxy to moto. On the address moto's Step Functions calls
//!   (`MOTO_PORT`), it answers Lambda `Invoke` of runbook_action and approval through their Runtime APIs (moto
//!   would need Docker); in front of a service endpoint (`AWS_ENDPOINT_URL_EVENTBRIDGE`,
//!   `AWS_ENDPOINT_URL_SSM`) it injects faults.
//! - [`kube`]: a Kubernetes API stand-in that records each request, answers a Deployment's
//!   `scale` and an empty autoscaler list, and 404 otherwise.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use platform_contract::approval;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

const RUNTIME: &str = "/2018-06-01/runtime";

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST .../response`.
    Response(Bytes),
    /// `POST .../error`: the `errorType` and the error document.
    Error {
        /// `Lambda-Runtime-Function-Error-Type` or the body's `errorType`.
        error_type: String,
        /// The error document.
        body: Bytes,
    },
    /// No answer: the process died, or the function's timeout passed.
    Lost(String),
}

struct Invocation {
    payload: Bytes,
    reply: oneshot::Sender<Outcome>,
}

struct RuntimeInner {
    function_arn: String,
    timeout: Duration,
    tx: mpsc::UnboundedSender<Invocation>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    counter: AtomicU64,
    /// Bumped when a process dies: a `next` long-poll of the dead process gives back what it
    /// takes afterwards.
    generation: AtomicU64,
}

/// The Lambda Runtime API of one function.
#[derive(Clone)]
pub struct RuntimeApi {
    inner: Arc<RuntimeInner>,
}

impl RuntimeApi {
    /// Serves it on a free loopback port. `timeout` is the function's (from its template).
    pub async fn serve(function_arn: &str, timeout: Duration) -> Result<(RuntimeApi, SocketAddr)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let api = RuntimeApi {
            inner: Arc::new(RuntimeInner {
                function_arn: function_arn.to_owned(),
                timeout,
                tx,
                rx: tokio::sync::Mutex::new(rx),
                pending: Mutex::new(HashMap::new()),
                counter: AtomicU64::new(0),
                generation: AtomicU64::new(0),
            }),
        };
        let app = Router::new()
            .route(&format!("{RUNTIME}/invocation/next"), get(next))
            .route(
                &format!("{RUNTIME}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{RUNTIME}/invocation/{{id}}/error"), post(error))
            .route(&format!("{RUNTIME}/init/error"), post(init_error))
            .with_state(api.clone());
        let addr = serve(app).await?;
        Ok((api, addr))
    }

    /// Invokes the function with `payload` and waits for its answer (at most its timeout).
    /// Invocations wait in a queue while no process polls, as Lambda holds them for a new
    /// execution environment.
    pub async fn invoke(&self, payload: Bytes) -> Outcome {
        let (reply, answer) = oneshot::channel();
        if self.inner.tx.send(Invocation { payload, reply }).is_err() {
            return Outcome::Lost("runtime API closed".into());
        }
        match tokio::time::timeout(self.inner.timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Lost("the process died during the invocation".into()),
            Err(_) => Outcome::Lost(format!(
                "Task timed out after {} seconds",
                self.inner.timeout.as_secs()
            )),
        }
    }

    /// How many invocations a process has taken and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.inner.pending.lock().unwrap().len()
    }

    /// Fails the invocations a process had taken when it died (SIGKILL).
    pub fn fail_pending(&self, why: &str) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        let pending: Vec<_> = self.inner.pending.lock().unwrap().drain().collect();
        for (_, reply) in pending {
            let _ = reply.send(Outcome::Lost(why.to_owned()));
        }
    }
}

async fn next(State(api): State<RuntimeApi>) -> Response {
    let generation = api.inner.generation.load(Ordering::SeqCst);
    let invocation = {
        let mut rx = api.inner.rx.lock().await;
        loop {
            match rx.recv().await {
                // The caller gave up (its timeout): Lambda would not run it any more.
                Some(i) if i.reply.is_closed() => continue,
                other => break other,
            }
        }
    };
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
    if api.inner.generation.load(Ordering::SeqCst) != generation {
        // The poll of a process that died meanwhile: the invocation waits for the next one.
        let _ = api.inner.tx.send(invocation);
        return StatusCode::GONE.into_response();
    }
    let n = api.inner.counter.fetch_add(1, Ordering::Relaxed);
    let id = format!("loop-{n:08}");
    api.inner
        .pending
        .lock()
        .unwrap()
        .insert(id.clone(), invocation.reply);
    let deadline = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        + api.inner.timeout;
    let mut headers = HeaderMap::new();
    let put = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put(&mut headers, "lambda-runtime-aws-request-id", id);
    put(
        &mut headers,
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string(),
    );
    put(
        &mut headers,
        "lambda-runtime-invoked-function-arn",
        api.inner.function_arn.clone(),
    );
    put(
        &mut headers,
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
    );
    put(&mut headers, "content-type", "application/json".into());
    (StatusCode::OK, headers, invocation.payload).into_response()
}

fn take(api: &RuntimeApi, id: &str) -> Option<oneshot::Sender<Outcome>> {
    api.inner.pending.lock().unwrap().remove(id)
}

async fn response(State(api): State<RuntimeApi>, Path(id): Path<String>, body: Bytes) -> Response {
    match take(&api, &id) {
        Some(reply) => {
            let _ = reply.send(Outcome::Response(body));
            StatusCode::ACCEPTED.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn error(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["errorType"].as_str().map(str::to_owned))
        .or_else(|| {
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Unhandled".into());
    match take(&api, &id) {
        Some(reply) => {
            let _ = reply.send(Outcome::Error { error_type, body });
            StatusCode::ACCEPTED.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn init_error(body: Bytes) -> Response {
    eprintln!("  init error: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED.into_response()
}

/// Serves `app` on a free loopback port.
pub async fn serve(app: Router) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// One webhook request through the API Gateway front.
#[derive(Debug, Clone)]
pub struct WebhookCall {
    /// When the answer was sent.
    pub at: SystemTime,
    /// Which front (one per Alertmanager replica, plus the harness's own).
    pub front: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The request body.
    pub request: Value,
    /// The answer body.
    pub answer: String,
}

/// What the webhook fronts record, shared.
pub type WebhookLog = Arc<Mutex<Vec<WebhookCall>>>;

#[derive(Clone)]
struct WebhookFront {
    name: String,
    stage: String,
    account: String,
    runtime: RuntimeApi,
    approval: Option<RuntimeApi>,
    log: WebhookLog,
}

/// API Gateway's REST API in front of alert_ingest, on a free loopback port: `{method}
/// /webhook/{source}` becomes the proxy event the generated API sends (`AWS_PROXY`,
/// authorization `NONE`: the bearer token is checked by the function, as in the template).
/// With `approval`, `{method} /approvals/{incident_id}?<query>` goes to that function the
/// same way (the links people open).
pub async fn webhook(
    name: &str,
    stage: &str,
    account: &str,
    runtime: RuntimeApi,
    approval: Option<RuntimeApi>,
    log: WebhookLog,
) -> Result<SocketAddr> {
    let front = WebhookFront {
        name: name.to_owned(),
        stage: stage.to_owned(),
        account: account.to_owned(),
        runtime,
        approval,
        log,
    };
    let app = Router::new()
        .route("/webhook/{source}", axum::routing::any(webhook_call))
        .route(
            &format!("/{}", approval::ROUTE.join("/")),
            axum::routing::any(approval_call),
        )
        .with_state(front);
    serve(app).await
}

/// The approval route: the proxy event of `approvals/{incident_id}`, the function's page as
/// the answer.
async fn approval_call(
    State(front): State<WebhookFront>,
    Path(incident_id): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    let Some(runtime) = &front.approval else {
        return (StatusCode::NOT_FOUND, "no approval function").into_response();
    };
    let query: serde_json::Map<String, Value> = uri
        .query()
        .map(|q| {
            url_pairs(q)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        })
        .unwrap_or_default();
    let resource = format!("/{}", approval::ROUTE.join("/"));
    let path = format!("/{}/{incident_id}", approval::ROUTE[0]);
    let event = json!({
        "resource": resource,
        "path": path,
        "httpMethod": method.as_str(),
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "pathParameters": {approval::PATH_PARAMETER: incident_id},
        "requestContext": {
            "accountId": front.account,
            "stage": front.stage,
            "identity": {"sourceIp": "127.0.0.1"},
            "resourcePath": resource,
            "httpMethod": method.as_str(),
        },
        "body": String::from_utf8_lossy(&body),
        "isBase64Encoded": false,
    });
    let (status, body) = match runtime
        .invoke(Bytes::from(event.to_string().into_bytes()))
        .await
    {
        Outcome::Response(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(r) => (
                r["statusCode"]
                    .as_u64()
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(502),
                r["body"].as_str().unwrap_or_default().to_owned(),
            ),
            Err(_) => (502, "Internal server error".to_owned()),
        },
        _ => (502, "Internal server error".to_owned()),
    };
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        body,
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// `a=b&c=d` decoded (`+` and `%XX`).
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |x: &str| percent_decode(&x.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect()
}

async fn webhook_call(
    State(front): State<WebhookFront>,
    Path(source): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/webhook/{source}");
    // API Gateway's REST event: `headers` holds a header's last value, `multiValueHeaders` all.
    let mut multi = serde_json::Map::new();
    for (k, v) in &headers {
        if let Ok(v) = v.to_str()
            && let Some(values) = multi
                .entry(k.as_str().to_owned())
                .or_insert_with(|| json!([]))
                .as_array_mut()
        {
            values.push(json!(v));
        }
    }
    let single: serde_json::Map<String, Value> = multi
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_array()?.last()?.clone())))
        .collect();
    let text = String::from_utf8_lossy(&body).into_owned();
    let event = json!({
        "resource": path,
        "path": path,
        "httpMethod": method.as_str(),
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": front.account,
            "resourceId": "loop",
            "stage": front.stage,
            "requestId": uuid::Uuid::new_v4().to_string(),
            "identity": {"sourceIp": "127.0.0.1"},
            "resourcePath": path,
            "httpMethod": method.as_str(),
            "apiId": "loop",
            "path": format!("/{}{path}", front.stage),
            "requestTimeEpoch": SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
        },
        "body": text,
        "isBase64Encoded": false,
    });
    let outcome = front
        .runtime
        .invoke(Bytes::from(event.to_string().into_bytes()))
        .await;
    let (status, answer, content_type) = match outcome {
        Outcome::Response(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(r) => {
                let status = r["statusCode"]
                    .as_u64()
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(502);
                let body = r["body"].as_str().unwrap_or_default().to_owned();
                let ct = r["headers"]["content-type"]
                    .as_str()
                    .or(r["multiValueHeaders"]["content-type"][0].as_str())
                    .unwrap_or("application/json")
                    .to_owned();
                (status, body, ct)
            }
            Err(_) => (
                502,
                r#"{"message": "Internal server error"}"#.to_owned(),
                "application/json".into(),
            ),
        },
        Outcome::Error { .. } | Outcome::Lost(_) => (
            502,
            r#"{"message": "Internal server error"}"#.to_owned(),
            "application/json".into(),
        ),
    };
    front.log.lock().unwrap().push(WebhookCall {
        at: SystemTime::now(),
        front: front.name.clone(),
        status,
        request: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        answer: answer.clone(),
    });
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        answer,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert("content-type", v);
    }
    response
}

/// One Lambda `Invoke` answered by the proxy.
#[derive(Debug, Clone)]
pub struct InvokeCall {
    /// The function invoked.
    pub function: String,
    /// When the answer was sent.
    pub at: SystemTime,
    /// The payload Step Functions sent (the `ActionRequest` the definition built).
    pub payload: Value,
    /// The function's result, or its error document.
    pub result: Value,
    /// The error type, when it failed.
    pub error: Option<String>,
}

/// A fault a [`Proxy`] injects.
#[derive(Debug, Default)]
pub struct Faults {
    /// Every request answers 503 until then.
    pub down_until: Option<Instant>,
    /// Armed: the first request after this is set starts an outage of this length.
    pub down_on_next: Option<Duration>,
    /// Every forwarded request waits this long first (invocations in flight for the kill).
    pub delay: Option<Duration>,
    /// The next `n` requests whose `X-Amz-Target` is this answer 400 `ThrottlingException`.
    pub throttle: Option<(String, u32)>,
    /// Requests answered with a fault, by kind.
    pub injected: Vec<(SystemTime, String)>,
}

/// What a [`Proxy`] answered for `Invoke`, shared.
pub type InvokeLog = Arc<Mutex<Vec<InvokeCall>>>;

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    faults: Arc<Mutex<Faults>>,
    functions: Vec<(String, RuntimeApi)>,
    invocations: InvokeLog,
}

/// A forwarding proxy to moto.
#[derive(Clone)]
pub struct Proxy {
    /// Its address.
    pub addr: SocketAddr,
    /// The faults it injects (change them while it runs).
    pub faults: Arc<Mutex<Faults>>,
    /// The `Invoke` calls it answered.
    pub invocations: Arc<Mutex<Vec<InvokeCall>>>,
}

impl Proxy {
    /// Forwards everything to `upstream`; answers Lambda `Invoke` of each of `functions` (a
    /// name and its Runtime API) itself.
    pub async fn start(upstream: &str, functions: Vec<(String, RuntimeApi)>) -> Result<Proxy> {
        let faults = Arc::new(Mutex::new(Faults::default()));
        let invocations = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().build()?,
            faults: faults.clone(),
            functions,
            invocations: invocations.clone(),
        };
        let app = Router::new().fallback(forward).with_state(state);
        let addr = serve(app).await?;
        Ok(Proxy {
            addr,
            faults,
            invocations,
        })
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut r = (
        status,
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    r.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_str(kind).unwrap());
    r
}

async fn forward(State(state): State<ProxyState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts.uri.path().to_owned();
    if !state.functions.is_empty()
        && parts.method == Method::POST
        && let Some(rest) = path.strip_prefix("/2015-03-31/functions/")
        && let Some(target) = rest.strip_suffix("/invocations")
    {
        let target = percent_decode(target);
        // A name, an ARN, either with a qualifier (`:$LATEST`, a version or an alias).
        let function = target
            .split_once(":function:")
            .map_or(target.as_str(), |(_, f)| f)
            .split(':')
            .next()
            .unwrap_or_default();
        let Some((name, api)) = state.functions.iter().find(|(n, _)| n == function) else {
            return aws_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &format!("Function not found: {target}"),
            );
        };
        let log = &state.invocations;
        let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let outcome = api.invoke(body).await;
        let (result, error, bytes) = match outcome {
            Outcome::Response(b) => (serde_json::from_slice(&b).unwrap_or(Value::Null), None, b),
            Outcome::Error { error_type, body } => (
                serde_json::from_slice(&body).unwrap_or(Value::Null),
                Some(error_type),
                body,
            ),
            Outcome::Lost(why) => {
                let doc = json!({"errorType": "Sandbox.Timedout", "errorMessage": why});
                (
                    doc.clone(),
                    Some("Sandbox.Timedout".into()),
                    Bytes::from(doc.to_string().into_bytes()),
                )
            }
        };
        log.lock().unwrap().push(InvokeCall {
            function: name.clone(),
            at: SystemTime::now(),
            payload,
            result,
            error: error.clone(),
        });
        let mut r = (StatusCode::OK, bytes).into_response();
        r.headers_mut().insert(
            "x-amz-executed-version",
            HeaderValue::from_static("$LATEST"),
        );
        if error.is_some() {
            r.headers_mut().insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
        }
        return r;
    }
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    {
        let mut f = state.faults.lock().unwrap();
        if let Some(d) = f.down_on_next.take() {
            f.down_until = Some(Instant::now() + d);
            f.injected
                .push((SystemTime::now(), format!("outage of {d:?} begins")));
        }
        if f.down_until.is_some_and(|t| Instant::now() < t) {
            f.injected
                .push((SystemTime::now(), format!("503 {target}")));
            return aws_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                "endpoint down (loop fault)",
            );
        }
        if let Some((t, n)) = &mut f.throttle
            && *t == target
            && *n > 0
        {
            *n -= 1;
            f.injected
                .push((SystemTime::now(), format!("throttled {target}")));
            return aws_error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded (loop fault)",
            );
        }
    }
    let delay = state.faults.lock().unwrap().delay;
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let url = format!(
        "{}{}",
        state.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut out = state.client.request(parts.method.clone(), url).body(body);
    for (k, v) in &parts.headers {
        if !HOP_BY_HOP.contains(&k.as_str()) && k != "host" && k != "content-length" {
            out = out.header(k, v);
        }
    }
    match out.send().await {
        Ok(answer) => {
            let status = answer.status();
            let headers = answer.headers().clone();
            let Ok(bytes) = answer.bytes().await else {
                return aws_error(
                    StatusCode::BAD_GATEWAY,
                    "LoopProxyError",
                    "upstream body could not be read",
                );
            };
            let mut r = (status, bytes).into_response();
            for (k, v) in &headers {
                if k != "content-length" && !HOP_BY_HOP.contains(&k.as_str()) {
                    r.headers_mut().append(k, v.clone());
                }
            }
            r
        }
        Err(e) => aws_error(
            StatusCode::BAD_GATEWAY,
            "LoopProxyError",
            &format!("upstream: {e}"),
        ),
    }
}

/// Headers of one connection, never forwarded (RFC 9110 section 7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// `%XX` escapes decoded (a function ARN in a Lambda API path has its `:` escaped).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One request the Kubernetes API stand-in received.
#[derive(Debug, Clone)]
pub struct KubeCall {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Body.
    pub body: String,
}

/// Replicas the stand-in's Deployments have.
pub const KUBE_REPLICAS: i64 = 2;

/// The Kubernetes API stand-in: records each request; answers a Deployment's `scale`
/// subresource (`GET`: [`KUBE_REPLICAS`], `PATCH`: the patch applied) and an empty autoscaler
/// list, and 404 with a `Status` for everything else (no cluster here; the kube client's
/// requests are checked against a recording in lambdas/tests/it/kube.rs).
pub async fn kube() -> Result<(SocketAddr, Arc<Mutex<Vec<KubeCall>>>)> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .fallback(
            |State(log): State<Arc<Mutex<Vec<KubeCall>>>>, request: Request| async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let text = String::from_utf8_lossy(&body).into_owned();
                log.lock().unwrap().push(KubeCall {
                    method: parts.method.to_string(),
                    uri: parts.uri.to_string(),
                    body: text.clone(),
                });
                let path = parts.uri.path();
                if parts.method == Method::GET && path.ends_with("/horizontalpodautoscalers") {
                    return (
                        StatusCode::OK,
                        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscalerList", "metadata": {}, "items": []}).to_string(),
                    );
                }
                if path.starts_with("/apis/apps/v1/namespaces/") && path.ends_with("/scale") {
                    let patched = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|p| p["spec"]["replicas"].as_i64());
                    let replicas = patched.unwrap_or(KUBE_REPLICAS);
                    return (
                        StatusCode::OK,
                        json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {},
                               "spec": {"replicas": replicas}, "status": {"replicas": KUBE_REPLICAS}})
                        .to_string(),
                    );
                }
                (
                    StatusCode::NOT_FOUND,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "reason": "NotFound", "code": 404,
                           "message": "no cluster behind the loop's Kubernetes stand-in"})
                    .to_string(),
                )
            },
        )
        .with_state(log.clone());
    Ok((serve(app).await?, log))
}
