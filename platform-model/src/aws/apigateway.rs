//! The webhook API: an API Gateway REST API whose routes proxy to a function, with request
//! models generated from the Rust payload types.
//!
//! # Example: a webhook route validated against a payload type
//!
//! A route's request model is the JSON Schema of the Rust payload type, rewritten into the
//! draft 4 API Gateway accepts; the API proxies the route to a function:
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::apigateway::{
//!     CustomDomain, Route, WebhookApi, WebhookApiProps, draft04, draft04_problems,
//! };
//! use platform_model::aws::iam::ServiceRole;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::aws::lambda::{Asset, Function, FunctionProps};
//! use platform_model::cfn::{Parameter, Template};
//! use platform_model::contract::webhook::alertmanager;
//! use platform_model::settings::{Architecture, FunctionSettings};
//! use serde_json::json;
//!
//! // The payload's schema (draft 7, as schemars writes it), made acceptable to API Gateway.
//! let mut settings = schemars::generate::SchemaSettings::draft07();
//! settings.inline_subschemas = true;
//! let schema = settings.into_generator().into_root_schema_for::<alertmanager::Webhook>();
//! let model = draft04(serde_json::to_value(schema).unwrap());
//! assert_eq!(model["$schema"], "http://json-schema.org/draft-04/schema#");
//! assert!(draft04_problems(&model).is_empty(), "{:?}", draft04_problems(&model));
//! // What draft 4 lacks is named with its path.
//! assert_eq!(
//!     draft04_problems(&json!({"properties": {"version": {"const": "4"}}})),
//!     ["/properties/version/const: `const` is not a draft-4 keyword API Gateway accepts"]
//! );
//!
//! let mut t = Template::new("webhooks", "Alert webhooks");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Data",
//!     KeyProps {
//!         description: "Webhook logs".into(),
//!         alias: "webhooks".into(),
//!         pending_window_days: 30,
//!         admin_role_names: vec![],
//!         service_users: vec![],
//!         allow_logs: true,
//!         tags: Tags::default(),
//!     },
//! );
//! let bucket = t.parameter("AssetBucket", Parameter::string());
//! let mut role = ServiceRole::new("Ingest", "lambda.amazonaws.com", "Ingests alerts");
//! let function = Function::new(
//!     &mut t,
//!     "Ingest",
//!     FunctionProps {
//!         name: "alert-ingest".into(),
//!         description: "Normalizes alerts into platform events".into(),
//!         asset: Asset { name: "alert_ingest".into(), sha256: "ab".repeat(32) },
//!         size: FunctionSettings { memory_mb: 256, timeout_seconds: 10, reserved_concurrency: 20 },
//!         architecture: Architecture::Arm64,
//!         environment: Default::default(),
//!         vpc: None,
//!         tags: Tags::default(),
//!     },
//!     &mut role,
//!     &bucket,
//!     &key,
//! );
//! role.finish(&mut t);
//! let api = WebhookApi::new(
//!     &mut t,
//!     "Webhook",
//!     WebhookApiProps {
//!         name: "alert-webhooks".into(),
//!         stage: "v1".into(),
//!         rate_limit: 20.0,
//!         burst_limit: 40,
//!         routes: vec![Route {
//!             path: vec!["webhook".into(), "alertmanager".into()],
//!             model_name: "AlertmanagerWebhook".into(),
//!             model_schema: model,
//!         }],
//!         links: vec![],
//!         integration_timeout_ms: 10_000,
//!         domain: CustomDomain {
//!             name: "alerts.example.com".into(),
//!             certificate_arn: "arn:aws:acm:eu-west-1:111111111111:certificate/abc".into(),
//!             zone_name: "example.com".into(),
//!         },
//!         tags: Tags::default(),
//!     },
//!     &function,
//!     &key,
//! );
//! assert_eq!(api.public_url(), "https://alerts.example.com");
//!
//! let json = t.to_json()?;
//! let post = &json["Resources"]["WebhookWebhookAlertmanagerPost"]["Properties"];
//! assert_eq!(post["HttpMethod"], "POST");
//! assert_eq!(post["Integration"]["Type"], "AWS_PROXY");
//! assert_eq!(post["RequestModels"]["application/json"], json!({"Ref": "WebhookAlertmanagerWebhookModel"}));
//! let stage = &json["Resources"]["WebhookStage"]["Properties"];
//! assert_eq!(stage["MethodSettings"][0]["ThrottlingRateLimit"], 20.0);
//! # Ok::<(), platform_model::Error>(())
//! ```

use crate::aws::Tags;
use crate::aws::iam::ServiceRole;
use crate::aws::kms::EncryptionKey;
use crate::aws::lambda::Function;
use crate::aws::logs::LogGroup;
use crate::cfn::{Attributes, Expr, Handle, Json, Template, Value};
use crate::resources::apigateway::{
    Account, BasePathMapping, Deployment, DomainName, Method, Model, RequestValidator,
    ResourceResource, RestApi, Stage, domain_name, method, rest_api, stage,
};
use crate::resources::route53::{RecordSet, record_set};

/// API Gateway's largest integration timeout for a REST API, in milliseconds (29 s; AWS's
/// quota "Maximum integration timeout"). The function behind a route must answer first.
pub const MAX_INTEGRATION_TIMEOUT_MS: i64 = 29_000;

/// The webhook API's custom domain: a regional domain name with its certificate, mapped to the
/// stage at the root, and an alias record in the environment's zone. Its URL is known at synth
/// time, so every sender's configuration names it.
#[derive(Debug, Clone)]
pub struct CustomDomain {
    /// Host name, e.g. `alerts.example.com`.
    pub name: String,
    /// ACM certificate ARN (same region) covering `name`.
    pub certificate_arn: String,
    /// The Route 53 zone the alias record goes in (its name, e.g. `example.com`).
    pub zone_name: String,
}

/// The keywords of JSON Schema draft 4 that API Gateway models accept. API Gateway validates
/// request bodies against draft 4 ("Working with models and mapping templates", API Gateway
/// Developer Guide: "API Gateway uses the JSON schema draft 4") and rejects a model with other
/// keywords: "Invalid model schema specified. Unsupported keyword(s): [...]" (its users report
/// it for `$id`, `const`, `examples`, `dependentRequired`). `$ref` is left out: models here are
/// inlined, so a reference could only point at something API Gateway does not resolve.
pub const DRAFT04_KEYWORDS: [&str; 33] = [
    "$schema",
    "title",
    "description",
    "default",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "additionalItems",
    "items",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "additionalProperties",
    "definitions",
    "properties",
    "patternProperties",
    "dependencies",
    "enum",
    "type",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "format",
    "id",
];

/// The `format`s draft 4 defines.
const DRAFT04_FORMATS: [&str; 6] = ["date-time", "email", "hostname", "ipv4", "ipv6", "uri"];

/// Rewrites a draft-07 schema (as schemars writes it, subschemas inlined) into draft 4:
/// `const` becomes a one-value `enum`, a `oneOf` of such branches becomes one `enum` (a unit
/// enum's variants), an `allOf` of one subschema is merged into its parent, and a `format`
/// draft 4 does not define (`uint64`) is dropped.
pub fn draft04(schema: Json) -> Json {
    fn walk(v: Json) -> Json {
        let Json::Object(map) = v else { return v };
        let mut out = serde_json::Map::new();
        for (k, v) in map {
            let v = match k.as_str() {
                // Maps of names to schemas: keep the names, rewrite the schemas.
                "properties" | "patternProperties" | "definitions" => match v {
                    Json::Object(m) => {
                        Json::Object(m.into_iter().map(|(n, s)| (n, walk(s))).collect())
                    }
                    other => other,
                },
                "enum" | "required" | "default" | "examples" | "const" => v,
                _ => match v {
                    Json::Array(items) => Json::Array(items.into_iter().map(walk).collect()),
                    Json::Object(_) => walk(v),
                    other => other,
                },
            };
            out.insert(k, v);
        }
        if let Some(c) = out.remove("const") {
            out.insert("enum".into(), Json::Array(vec![c]));
        }
        if let Some(Json::Array(branches)) = out.get("oneOf") {
            let values: Option<Vec<Json>> = branches
                .iter()
                .map(|b| match b.get("enum") {
                    Some(Json::Array(e)) if e.len() == 1 => Some(e[0].clone()),
                    _ => None,
                })
                .collect();
            let types: std::collections::BTreeSet<String> = branches
                .iter()
                .filter_map(|b| b.get("type").map(Json::to_string))
                .collect();
            if let Some(values) = values
                && types.len() <= 1
            {
                let ty = branches.first().and_then(|b| b.get("type")).cloned();
                out.remove("oneOf");
                out.insert("enum".into(), Json::Array(values));
                if let Some(ty) = ty {
                    out.insert("type".into(), ty);
                }
            }
        }
        if let Some(Json::Array(parts)) = out.get("allOf")
            && parts.len() == 1
            && let Some(Json::Object(inner)) = out.remove("allOf").and_then(|a| a.get(0).cloned())
        {
            for (k, v) in inner {
                out.entry(k).or_insert(v);
            }
        }
        if out
            .get("format")
            .and_then(Json::as_str)
            .is_some_and(|f| !DRAFT04_FORMATS.contains(&f))
        {
            out.remove("format");
        }
        Json::Object(out)
    }
    let mut s = walk(schema);
    s["$schema"] = Json::from("http://json-schema.org/draft-04/schema#");
    s
}

/// Every keyword of `schema` that API Gateway's draft 4 does not accept, with its path
/// (empty: the model is acceptable).
pub fn draft04_problems(schema: &Json) -> Vec<String> {
    fn walk(v: &Json, path: &str, out: &mut Vec<String>) {
        let Json::Object(map) = v else { return };
        for (k, v) in map {
            let here = format!("{path}/{k}");
            if !DRAFT04_KEYWORDS.contains(&k.as_str()) {
                out.push(format!(
                    "{here}: `{k}` is not a draft-4 keyword API Gateway accepts"
                ));
                continue;
            }
            match k.as_str() {
                "properties" | "patternProperties" | "definitions" => {
                    for (n, s) in v.as_object().into_iter().flatten() {
                        walk(s, &format!("{here}/{n}"), out);
                    }
                }
                "items" | "additionalItems" | "additionalProperties" | "not" => match v {
                    Json::Array(a) => {
                        for (i, s) in a.iter().enumerate() {
                            walk(s, &format!("{here}/{i}"), out);
                        }
                    }
                    other => walk(other, &here, out),
                },
                "allOf" | "anyOf" | "oneOf" => {
                    for (i, s) in v.as_array().into_iter().flatten().enumerate() {
                        walk(s, &format!("{here}/{i}"), out);
                    }
                }
                "exclusiveMinimum" | "exclusiveMaximum" if !v.is_boolean() => {
                    out.push(format!("{here}: must be a boolean in draft 4"));
                }
                "format" if !v.as_str().is_some_and(|f| DRAFT04_FORMATS.contains(&f)) => {
                    out.push(format!("{here}: {v} is not a draft-4 format"));
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(schema, "", &mut out);
    out
}

/// One `POST` route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Path below the API's root, e.g. `["webhook", "alertmanager"]`.
    pub path: Vec<String>,
    /// Name of the request model (alphanumeric).
    pub model_name: String,
    /// JSON Schema (draft 4) of the request body.
    pub model_schema: Json,
}

/// A route people open from a link (no request model: a query string or a form), proxied to
/// its own function, which authorizes each request itself (a signed token).
#[derive(Debug, Clone)]
pub struct LinkRoute {
    /// Path below the API's root; a part in braces is a path parameter (`{incident_id}`).
    pub path: Vec<String>,
    /// The HTTP methods (`GET`, `POST`).
    pub methods: Vec<String>,
    /// The function's ARN. The caller grants API Gateway its invoke permission
    /// ([`WebhookApi::link_source_arn`]).
    pub function_arn: Expr,
    /// Why the methods have no API Gateway authorization (checkov's CKV_AWS_59).
    pub why_no_authorizer: String,
}

/// What a [`WebhookApi`] is made from.
#[derive(Debug, Clone)]
pub struct WebhookApiProps {
    /// API name.
    pub name: String,
    /// Stage name.
    pub stage: String,
    /// Steady-state requests per second.
    pub rate_limit: f64,
    /// Burst.
    pub burst_limit: i64,
    /// Routes.
    pub routes: Vec<Route>,
    /// Routes opened from links, each to its own function.
    pub links: Vec<LinkRoute>,
    /// Integration timeout of every route, in milliseconds (at most
    /// [`MAX_INTEGRATION_TIMEOUT_MS`]).
    pub integration_timeout_ms: i64,
    /// The custom domain the senders post to.
    pub domain: CustomDomain,
    /// Tags.
    pub tags: Tags,
}

/// A REST API with validated `POST` routes proxied to one function, a stage with access logs
/// and throttling, and a custom domain.
///
/// Senders authenticate with a bearer token that the function checks (Alertmanager and Datadog
/// can send a header but cannot sign requests); there is no API key, so no sender has to carry
/// a second secret, and the stage's throttling holds for every caller.
#[derive(Debug, Clone)]
pub struct WebhookApi {
    api: Handle<RestApi>,
    stage: Handle<Stage>,
    name: String,
    stage_name: String,
    domain: String,
}

/// Fields of each access log line (JSON).
const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status","responseLength":"$context.responseLength","integrationError":"$context.integrationErrorMessage","validationError":"$context.error.validationErrorString"}"#;

impl WebhookApi {
    /// Adds the API (`<id>Api` and its parts) proxying every route to `function`.
    #[allow(clippy::too_many_lines)]
    pub fn new(
        t: &mut Template,
        id: &str,
        props: WebhookApiProps,
        function: &Function,
        key: &EncryptionKey,
    ) -> Self {
        let api = t.add(
            &format!("{id}Api"),
            RestApi::new()
                .name(props.name.as_str())
                .description("Alert webhooks: Alertmanager and Datadog post here")
                .endpoint_configuration(
                    rest_api::EndpointConfiguration::new().types(vec![Value::from("REGIONAL")]),
                )
                .disable_execute_api_endpoint(false)
                .tags(props.tags.to_list(|k, v| rest_api::Tag::new(k, v))),
        );
        let validator = t.add(
            &format!("{id}BodyValidator"),
            RequestValidator::new(api.reference())
                .name("body")
                .validate_request_body(true)
                .validate_request_parameters(false),
        );
        // API Gateway writes access and execution logs through an account-wide role.
        let mut logging = ServiceRole::new(
            &format!("{id}CloudWatch"),
            "apigateway.amazonaws.com",
            "Lets API Gateway write access and execution logs to CloudWatch Logs",
        )
        .retained();
        logging.attach_managed(Expr::sub(
            "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        ));
        let logging_arn = logging.arn();
        logging.finish(t);
        // AWS::ApiGateway::Account is the region's account-wide setting, shared by every API:
        // deleting this stack must not remove it for the others, so it (and its role) is
        // retained. A second stack setting it would take it over; the platform sets it once.
        let account = t.add_with(
            &format!("{id}Account"),
            Account::new().cloud_watch_role_arn(logging_arn),
            Attributes::new().retain(),
        );

        let mut parents: Vec<(Vec<String>, Expr)> = Vec::new();
        let mut deployed: Vec<Json> = Vec::new();
        let mut methods = Vec::new();
        let mut resource_of = |t: &mut Template, path: &[String]| {
            let mut parent = api.get_att("RootResourceId");
            let mut walked = Vec::new();
            for part in path {
                walked.push(part.clone());
                if let Some((_, existing)) = parents.iter().find(|(p, _)| *p == walked) {
                    parent = existing.clone();
                    continue;
                }
                let rid = format!("{id}{}Resource", pascal(&walked));
                let res = t.add(
                    &rid,
                    ResourceResource::new(parent, part.as_str(), api.reference()),
                );
                parent = res.reference();
                parents.push((walked.clone(), parent.clone()));
            }
            parent
        };
        for route in &props.routes {
            let parent = resource_of(t, &route.path);
            let model_resource = Model::new(api.reference())
                .name(route.model_name.as_str())
                .content_type("application/json")
                .description(format!("Request body of POST /{}", route.path.join("/")))
                .schema(route.model_schema.clone());
            deployed.push(serde_json::to_value(&model_resource).unwrap_or_default());
            let model = t.add(&format!("{id}{}Model", route.model_name), model_resource);
            let method_resource = Method::new("POST", parent, api.reference())
                    .authorization_type("NONE")
                    .api_key_required(false)
                    .request_validator_id(validator.reference())
                    .request_models([("application/json".to_owned(), Value::from(model.reference()))]
                        .into_iter()
                        .collect::<std::collections::BTreeMap<_, _>>())
                    .integration(
                        method::Integration::new(method::Type::AwsProxy)
                            .integration_http_method("POST")
                            .timeout_in_millis(props.integration_timeout_ms)
                            .uri(Expr::sub_with(
                                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Function}/invocations",
                                [("Function", function.arn())],
                            )),
                    );
            deployed.push(serde_json::to_value(&method_resource).unwrap_or_default());
            let m = t.add_with(
                &format!("{id}{}Post", pascal(&route.path)),
                method_resource,
                Attributes::new().checkov_skip(
                    "CKV_AWS_59",
                    "Webhook senders (Alertmanager, Datadog) cannot sign requests; the function checks their bearer token in constant time, and the stage throttles every caller",
                ),
            );
            methods.push(m);
        }
        for link in &props.links {
            let parent = resource_of(t, &link.path);
            for verb in &link.methods {
                let method_resource = Method::new(verb.as_str(), parent.clone(), api.reference())
                    .authorization_type("NONE")
                    .api_key_required(false)
                    .integration(
                        method::Integration::new(method::Type::AwsProxy)
                            .integration_http_method("POST")
                            .timeout_in_millis(props.integration_timeout_ms)
                            .uri(Expr::sub_with(
                                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Function}/invocations",
                                [("Function", link.function_arn.clone())],
                            )),
                    );
                deployed.push(serde_json::to_value(&method_resource).unwrap_or_default());
                let mut verb_id = verb.to_ascii_lowercase();
                if let Some(first) = verb_id.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                let m = t.add_with(
                    &format!("{id}{}{verb_id}", pascal(&link.path)),
                    method_resource,
                    Attributes::new().checkov_skip("CKV_AWS_59", &link.why_no_authorizer),
                );
                methods.push(m);
            }
        }

        // A deployment is a snapshot: CloudFormation makes a new one only when its logical id
        // changes, so the id carries a hash of every method and model it deploys (as CDK does).
        // Without it, stage `v1` would keep serving the first API forever.
        let deployment = {
            let mut attrs = Attributes::new();
            for m in &methods {
                attrs = attrs.depends_on(m);
            }
            let digest = deployment_hash(&deployed);
            t.add_with(
                &format!("{id}Deployment{digest}"),
                Deployment::new(api.reference()).description(format!("Webhook routes ({digest})")),
                attrs,
            )
        };
        let access_logs = LogGroup::new(
            t,
            &format!("{id}Access"),
            &format!("/aws/apigateway/{}/access", props.name),
            key,
            crate::aws::lambda::LOG_RETENTION_DAYS,
            &props.tags,
        );
        let stage = t.add_with(
            &format!("{id}Stage"),
            Stage::new(api.reference())
                .stage_name(props.stage.as_str())
                .deployment_id(deployment.reference())
                .tracing_enabled(true)
                .access_log_setting(
                    stage::AccessLogSetting::new()
                        .destination_arn(access_logs.bare_arn())
                        .format(ACCESS_LOG_FORMAT),
                )
                .method_settings(vec![
                    stage::MethodSetting::new()
                        .http_method("*")
                        .resource_path("/*")
                        .logging_level("ERROR")
                        .metrics_enabled(true)
                        .data_trace_enabled(false)
                        .throttling_rate_limit(props.rate_limit)
                        .throttling_burst_limit(props.burst_limit),
                ])
                .tags(props.tags.to_list(|k, v| stage::Tag::new(k, v))),
            Attributes::new()
                .depends_on(&account)
                .checkov_skip(
                    "CKV_AWS_120",
                    "Webhook posts are writes with unique bodies: a response cache would never hit",
                )
                .checkov_skip(
                    "CKV2_AWS_51",
                    "Alertmanager and Datadog cannot present client certificates",
                )
                .checkov_skip(
                    "CKV2_AWS_29",
                    "WAF is set at the account's edge per environment; the stage has throttling, the function a bearer token check, the methods body validation",
                ),
        );
        let domain = t.add(
            &format!("{id}Domain"),
            DomainName::new()
                .domain_name(props.domain.name.as_str())
                .regional_certificate_arn(props.domain.certificate_arn.as_str())
                .endpoint_configuration(
                    domain_name::EndpointConfiguration::new().types(vec![Value::from("REGIONAL")]),
                )
                .security_policy("TLS_1_2")
                .tags(
                    props
                        .tags
                        .to_list(|k, v| domain_name::Tag::new().key(k).value(v)),
                ),
        );
        t.add(
            &format!("{id}BasePathMapping"),
            BasePathMapping::new(domain.reference())
                .rest_api_id(api.reference())
                .stage(stage.reference()),
        );
        t.add(
            &format!("{id}DomainRecord"),
            RecordSet::new(props.domain.name.as_str(), "A")
                .hosted_zone_name(format!("{}.", props.domain.zone_name.trim_end_matches('.')))
                .alias_target(record_set::AliasTarget::new(
                    domain.regional_domain_name(),
                    domain.regional_hosted_zone_id(),
                )),
        );
        function.allow_invoke_from(
            t,
            &format!("{id}InvokePermission"),
            "apigateway.amazonaws.com",
            Expr::sub_with(
                "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*/POST/*",
                [("Api", api.reference())],
            ),
        );
        WebhookApi {
            api,
            stage,
            name: props.name,
            stage_name: props.stage,
            domain: props.domain.name,
        }
    }

    /// The `SourceArn` of API Gateway's permission to invoke a link route's function: any
    /// method of the stage on `path` (path parameters as `*`).
    pub fn link_source_arn(&self, path: &[String]) -> Expr {
        let path: Vec<&str> = path
            .iter()
            .map(|p| if p.starts_with('{') { "*" } else { p.as_str() })
            .collect();
        Expr::sub_with(
            format!(
                "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{Api}}/{}/*/{}",
                self.stage_name,
                path.join("/")
            ),
            [("Api", self.api.reference())],
        )
    }

    /// The base URL of the stage (`https://<api>.execute-api.<region>.<suffix>/<stage>`).
    pub fn url(&self) -> Expr {
        Expr::sub_with(
            format!(
                "https://${{Api}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{}",
                self.stage_name
            ),
            [("Api", self.api.reference())],
        )
    }

    /// The API's name (`ApiName` of its CloudWatch metrics).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stage's name (`Stage` of its CloudWatch metrics).
    pub fn stage_name(&self) -> &str {
        &self.stage_name
    }

    /// The API's id.
    pub fn id(&self) -> Expr {
        self.api.reference()
    }

    /// The stage's handle.
    pub fn stage(&self) -> &Handle<Stage> {
        &self.stage
    }

    /// The public base URL senders post to: `https://<custom domain>` (the stage is mapped at
    /// the domain's root). Known at synth time.
    pub fn public_url(&self) -> String {
        public_url(&self.domain)
    }
}

/// The public base URL of an API on the custom domain `domain` (the stage is mapped at its
/// root): what [`WebhookApi::public_url`] answers, known before the API is built (a function
/// behind it links to it).
pub fn public_url(domain: &str) -> String {
    format!("https://{domain}")
}

/// The first 8 hex digits of the SHA-256 of what a deployment deploys (its methods and models,
/// as CloudFormation receives them).
pub fn deployment_hash(deployed: &[Json]) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(deployed).unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pascal(parts: &[String]) -> String {
    crate::cfn::LogicalId::from_path(parts)
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default()
}
