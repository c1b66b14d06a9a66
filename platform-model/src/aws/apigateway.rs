//! The webhook API: an API Gateway REST API whose routes proxy to a function, with request
//! models generated from the Rust payload types.

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
        );
        logging.attach_managed(Expr::sub(
            "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        ));
        let logging_arn = logging.arn();
        logging.finish(t);
        let account = t.add(
            &format!("{id}Account"),
            Account::new().cloud_watch_role_arn(logging_arn),
        );

        let mut parents: Vec<(Vec<String>, Expr)> = Vec::new();
        let mut methods = Vec::new();
        for route in &props.routes {
            let mut parent = api.get_att("RootResourceId");
            let mut walked = Vec::new();
            for part in &route.path {
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
            let model = t.add(
                &format!("{id}{}Model", route.model_name),
                Model::new(api.reference())
                    .name(route.model_name.as_str())
                    .content_type("application/json")
                    .description(format!("Request body of POST /{}", route.path.join("/")))
                    .schema(route.model_schema.clone()),
            );
            let m = t.add_with(
                &format!("{id}{}Post", pascal(&route.path)),
                Method::new("POST", parent, api.reference())
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
                    ),
                Attributes::new().checkov_skip(
                    "CKV_AWS_59",
                    "Webhook senders (Alertmanager, Datadog) cannot sign requests; the function checks their bearer token in constant time, and the stage throttles every caller",
                ),
            );
            methods.push(m);
        }

        let deployment = {
            let mut attrs = Attributes::new();
            for m in &methods {
                attrs = attrs.depends_on(m);
            }
            t.add_with(
                &format!("{id}Deployment"),
                Deployment::new(api.reference()).description("Webhook routes"),
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
            stage_name: props.stage,
            domain: props.domain.name,
        }
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
        format!("https://{}", self.domain)
    }
}

fn pascal(parts: &[String]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}
