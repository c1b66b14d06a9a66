//! The runbook state machine `incident-response-runbook`.
//!
//! Input: the EventBridge event (`incident.created` or `incident.resolved`) as delivered by the
//! rule. States:
//!
//! | state | does |
//! |---|---|
//! | `RouteByDetailType` | `incident.resolved` goes to the resolve path; everything else is a new incident |
//! | `ComputeExpiry` | the record's TTL: `received_at_epoch` + the retention |
//! | `RecordIncident` | conditional put (`attribute_not_exists(incident_id)`): a duplicate stops at `DuplicateIncident` |
//! | `EvaluateIncident` | `info`: done; no runbook: critical escalates, others are done |
//! | `ChooseAction` | one branch per runbook action some service allows, and `drain_node`; any other action escalates |
//! | `Choose<Action>Target` | one branch per service that allows the action (namespace and name); any other target escalates |
//! | `Prepare<Action><Service>`, `PrepareDrainNode` | builds the [`ActionRequest`](crate::contract::runbook::ActionRequest) with that service's bounds (`max_replicas`, `degraded_mode_parameter`) |
//! | `MarkRemediating` | status `remediating`, the action appended to `actions_taken` |
//! | `InvokeRunbookAction` | `runbook_action` (Retry 3x, exponential backoff, on retryable errors; Catch -> `Escalate`) |
//! | `ApprovalNeeded` | the action answered `needs_approval` (its [`Gate`](crate::contract::runbook::Gate)) and nobody approved it yet: ask; otherwise go on |
//! | `RequestApproval` | `approval` with a task token (`waitForTaskToken`), waiting `pipeline.approval.deadline_seconds`: approved -> `request.approved_by` is set and `InvokeRunbookAction` runs again; denied -> `Escalate`; no answer -> `RecordApprovalExpired` |
//! | `RecordApprovalExpired`, `ProjectApprovalExpired`, `EmitApprovalExpired` | the record's approval `expired` (by `deadline`), `approval.decided` on the bus, then `Escalate` |
//! | `ProjectActionCompleted`, `EmitActionCompleted` | `action.completed` on the bus: runbook_action's result with the alert's name and severity |
//! | `StartVerification`, `WaitForStabilization`, `ReadIncident`, `IsResolved`, `CountAttempt` | wait the stabilization window, read the record, until resolved or the deadline |
//! | `Escalate`, `ProjectEscalation`, `NotifyEscalation` | status `escalated`; `incident.escalated` on the bus (a projection of the incident: the notify rule pages critical ones, the audit log keeps it) |
//! | `ComputeResolvedExpiry`, `HasStartTime` | the TTL; whether the event names the record's start (Alertmanager does, a Datadog recovery does not) |
//! | `UseEventStart`, `ResolveIncident` | status `resolved`, `resolved_at`, `time_to_resolve_seconds`; first writer wins, so a repeat or an early arrival is safe |
//! | `FindIncidentStart`, `FoundIncidentStart`, `UseRecordedStart`, `UseResolvedAtAsStart`, `ResolveUndatedIncident` | no start in the event: query the record by its id for its key; an early arrival keys the new record by `resolved_at`; no time to resolve is recorded (none is known) |
//!
//! The state machine is built by the pipeline stack; its definition is in the template:
//!
//! ```
//! use platform_model::platform::{Assets, checkout, pipeline_stack};
//! use platform_model::settings::{Environment, Settings};
//!
//! let settings = Settings::embedded(Environment::Dev).unwrap();
//! let assets = Assets::new(&"a".repeat(64), &"b".repeat(64), &"c".repeat(64));
//! let p = pipeline_stack(&settings, &[checkout(&settings)?], &assets)?;
//! let json = p.template.to_json()?;
//! let states = &json["Resources"]["RunbookStateMachine"]["Properties"]["Definition"]["States"];
//! // One branch per service that allows the action, with that service's bound.
//! assert_eq!(states["PrepareScaleDeploymentCheckout"]["Parameters"]["max_replicas"], 4);
//! assert_eq!(states["ChooseScaleDeploymentTarget"]["Default"], "Escalate");
//! # Ok::<(), platform_model::Error>(())
//! ```

use serde_json::json;

use crate::Error;
use crate::aws::dynamodb::RecordTable;
use crate::aws::events::EventBus;
use crate::aws::lambda::Function;
use crate::aws::stepfunctions::Integrations;
use crate::aws::stepfunctions::asl::{
    Builder, Catch, Choice, Cond, Definition, Next, Pass, ResultPath, Retry, STATES_ALL, State,
    StateId,
};
use crate::contract::Severity;
use crate::contract::approval::{self, Decision};
use crate::contract::events::{DetailType, Source};
use crate::contract::incident_record as rec;
use crate::contract::runbook::{Action, ERROR_RETRYABLE, Outcome, Target};
use crate::service::{ActionBounds, Service};

/// Statuses of an incident record.
pub mod status {
    /// Recorded, not yet acted on.
    pub const OPEN: &str = "open";
    /// A runbook action is running.
    pub const REMEDIATING: &str = "remediating";
    /// The alert stopped firing.
    pub const RESOLVED: &str = "resolved";
    /// Handed to people.
    pub const ESCALATED: &str = "escalated";
}

/// The state machine's settings.
#[derive(Debug, Clone, Copy)]
pub struct RunbookTiming {
    /// Seconds to wait after an action before reading the record.
    pub stabilization_seconds: u32,
    /// Seconds after the action by which the incident must be resolved.
    pub deadline_seconds: u32,
    /// Seconds an incident record is kept (TTL).
    pub retention_seconds: i64,
    /// `TimeoutSeconds` of the `InvokeRunbookAction` task: longer than the function's own
    /// timeout, so the function's timeout fires first.
    pub action_task_timeout_seconds: u32,
    /// Seconds a gated action waits for a human (`RequestApproval`'s `TimeoutSeconds`).
    pub approval_deadline_seconds: u32,
}

/// The resources the runbook touches.
#[derive(Debug, Clone, Copy)]
pub struct RunbookWiring<'a> {
    /// `sre-incidents`.
    pub table: &'a RecordTable,
    /// `runbook_action`.
    pub action: &'a Function,
    /// `approval`: asks people, answers the runbook.
    pub approval: &'a Function,
    /// The platform bus.
    pub bus: &'a EventBus,
}

fn key() -> serde_json::Value {
    json!({
        rec::INCIDENT_ID: {"S.$": "$.detail.incident_id"},
        rec::TIMESTAMP: {"S.$": "$.detail.starts_at"},
    })
}

/// The key on the resolve path, where the start comes from the event or from the record.
fn resolve_key() -> serde_json::Value {
    json!({
        rec::INCIDENT_ID: {"S.$": "$.detail.incident_id"},
        rec::TIMESTAMP: {"S.$": "$.start.value"},
    })
}

/// The declared states of the runbook, shared by the paths that define them.
struct States {
    route: StateId,
    expiry: StateId,
    record: StateId,
    duplicate: StateId,
    evaluate: StateId,
    no_action: StateId,
    choose: StateId,
    branches: Vec<Branch>,
    mark: StateId,
    invoke: StateId,
    approval_needed: StateId,
    request_approval: StateId,
    approval_expired: StateId,
    project_expired: StateId,
    emit_expired: StateId,
    project_completed: StateId,
    emit: StateId,
    start_verify: StateId,
    wait: StateId,
    read: StateId,
    is_resolved: StateId,
    count: StateId,
    remediated: StateId,
    escalate: StateId,
    project_escalation: StateId,
    notify: StateId,
    escalated: StateId,
    resolve_expiry: StateId,
    has_start: StateId,
    event_start: StateId,
    resolve: StateId,
    find_start: StateId,
    found_start: StateId,
    recorded_start: StateId,
    resolved_at_start: StateId,
    resolve_undated: StateId,
    already: StateId,
    resolved: StateId,
}

/// The runbook's branch for one action: where `ChooseAction` goes, and the request each
/// allowed target gets.
struct Branch {
    action: Action,
    /// `Choose<Action>Target`, or the prepare state itself for `drain_node` (a node, no service).
    entry: StateId,
    /// The allowed targets (`None`: any node, for `drain_node`), their bounds and prepare state.
    targets: Vec<(Option<Target>, ActionBounds, StateId)>,
}

impl States {
    fn declare(b: &mut Builder, services: &[Service]) -> States {
        let route = b.declare("RouteByDetailType");
        let expiry = b.declare("ComputeExpiry");
        let record = b.declare("RecordIncident");
        let duplicate = b.declare("DuplicateIncident");
        let evaluate = b.declare("EvaluateIncident");
        let no_action = b.declare("NoRemediation");
        let choose = b.declare("ChooseAction");
        let mut branches = Vec::new();
        for action in Action::ALL {
            let name = pascal(action.as_str());
            if action == Action::DrainNode {
                let prepare = b.declare(&format!("Prepare{name}"));
                branches.push(Branch {
                    action,
                    entry: prepare.clone(),
                    targets: vec![(
                        None,
                        ActionBounds {
                            max_replicas: None,
                            degraded_mode_parameter: None,
                            approval_above_replicas: None,
                        },
                        prepare,
                    )],
                });
                continue;
            }
            let targets: Vec<_> = services
                .iter()
                .filter_map(|svc| {
                    let bounds = svc.bounds(action)?;
                    Some((svc, bounds))
                })
                .collect();
            if targets.is_empty() {
                continue;
            }
            let entry = b.declare(&format!("Choose{name}Target"));
            let targets = targets
                .into_iter()
                .map(|(svc, bounds)| {
                    let state = b.declare(&format!("Prepare{name}{}", svc.construct_id()));
                    (Some(svc.target()), bounds, state)
                })
                .collect();
            branches.push(Branch {
                action,
                entry,
                targets,
            });
        }
        let mark = b.declare("MarkRemediating");
        let invoke = b.declare("InvokeRunbookAction");
        let approval_needed = b.declare("ApprovalNeeded");
        let request_approval = b.declare("RequestApproval");
        let approval_expired = b.declare("RecordApprovalExpired");
        let project_expired = b.declare("ProjectApprovalExpired");
        let emit_expired = b.declare("EmitApprovalExpired");
        let project_completed = b.declare("ProjectActionCompleted");
        let emit = b.declare("EmitActionCompleted");
        let start_verify = b.declare("StartVerification");
        let wait = b.declare("WaitForStabilization");
        let read = b.declare("ReadIncident");
        let is_resolved = b.declare("IsResolved");
        let count = b.declare("CountAttempt");
        let remediated = b.declare("Remediated");
        let escalate = b.declare("Escalate");
        let project_escalation = b.declare("ProjectEscalation");
        let notify = b.declare("NotifyEscalation");
        let escalated = b.declare("Escalated");
        let resolve_expiry = b.declare("ComputeResolvedExpiry");
        let has_start = b.declare("HasStartTime");
        let event_start = b.declare("UseEventStart");
        let resolve = b.declare("ResolveIncident");
        let find_start = b.declare("FindIncidentStart");
        let found_start = b.declare("FoundIncidentStart");
        let recorded_start = b.declare("UseRecordedStart");
        let resolved_at_start = b.declare("UseResolvedAtAsStart");
        let resolve_undated = b.declare("ResolveUndatedIncident");
        let already = b.declare("AlreadyResolved");
        let resolved = b.declare("Resolved");
        States {
            route,
            expiry,
            record,
            duplicate,
            evaluate,
            no_action,
            choose,
            branches,
            mark,
            invoke,
            approval_needed,
            request_approval,
            approval_expired,
            project_expired,
            emit_expired,
            project_completed,
            emit,
            start_verify,
            wait,
            read,
            is_resolved,
            count,
            remediated,
            escalate,
            project_escalation,
            notify,
            escalated,
            resolve_expiry,
            has_start,
            event_start,
            resolve,
            find_start,
            found_start,
            recorded_start,
            resolved_at_start,
            resolve_undated,
            already,
            resolved,
        }
    }
}

/// Builds the definition for `services` (the targets and bounds of the remediation branches);
/// the integrations grant their permissions to the state machine's role.
pub fn definition(
    wiring: RunbookWiring<'_>,
    timing: RunbookTiming,
    services: &[Service],
    x: &mut Integrations<'_>,
) -> Result<Definition, Error> {
    let mut b =
        Builder::new("incident-response-runbook: record, remediate, verify, escalate or resolve");
    let s = States::declare(&mut b, services);
    record(&mut b, &s, wiring, timing, x);
    remediate(&mut b, &s, wiring, timing, x);
    approve(&mut b, &s, wiring, timing, x);
    verify(&mut b, &s, wiring, timing, x);
    escalate(&mut b, &s, wiring, x);
    resolve(&mut b, &s, wiring, timing, x);
    b.build(&s.route)
}

/// Routes by detail type, records a new incident (a duplicate stops here) and evaluates it.
fn record(
    b: &mut Builder,
    s: &States,
    wiring: RunbookWiring<'_>,
    timing: RunbookTiming,
    x: &mut Integrations<'_>,
) {
    let States {
        route,
        expiry,
        record,
        duplicate,
        evaluate,
        no_action,
        choose,
        escalate,
        resolve_expiry,
        ..
    } = s;
    b.define(
        route,
        State::Choice(
            Choice::new()
                .when(
                    Cond::string_equals("$.detail-type", DetailType::IncidentResolved.as_str()),
                    resolve_expiry,
                )
                .otherwise(expiry),
        ),
    );
    b.define(
        expiry,
        State::Pass(
            Pass::parameters(
                json!({"epoch.$": format!("States.MathAdd($.detail.received_at_epoch, {})", timing.retention_seconds)}),
                Next::To(record.clone()),
            )
            .result_path(ResultPath::At("$.expiry".into())),
        ),
    );
    b.define(
        record,
        State::Task(
            x.put_item(
                wiring.table,
                "IncidentsTable",
                json!({
                    "Item": {
                        rec::INCIDENT_ID: {"S.$": "$.detail.incident_id"},
                        rec::TIMESTAMP: {"S.$": "$.detail.starts_at"},
                        "status": {"S": status::OPEN},
                        "alert_name": {"S.$": "$.detail.alert_name"},
                        "severity": {"S.$": "$.detail.severity"},
                        "summary": {"S.$": "$.detail.summary"},
                        "received_at": {"S.$": "$.detail.received_at"},
                        rec::EXPIRES_AT: {"N.$": "States.Format('{}', $.expiry.epoch)"},
                    },
                    "ConditionExpression": "attribute_not_exists(incident_id)",
                }),
                Next::To(evaluate.clone()),
            )
            .result_path(ResultPath::Discard)
            .catch(Catch {
                errors: vec!["DynamoDB.ConditionalCheckFailedException".into()],
                result_path: Some("$.error".into()),
                next: duplicate.clone(),
            }),
        ),
    );
    b.define(duplicate, State::Succeed);
    b.define(
        evaluate,
        State::Choice(
            Choice::new()
                .when(
                    Cond::string_equals("$.detail.severity", Severity::Info.as_str()),
                    no_action,
                )
                .when(Cond::is_present("$.detail.runbook.action", true), choose)
                .when(
                    Cond::string_equals("$.detail.severity", Severity::Critical.as_str()),
                    escalate,
                )
                .otherwise(no_action),
        ),
    );
    b.define(no_action, State::Succeed);
}

/// Chooses the action from the runbook and the target among the services that allow it, builds
/// its `ActionRequest` with that service's bounds, marks the record remediating, invokes
/// runbook_action and emits `action.completed`. An action or target no service allows
/// escalates: people decide, nothing is dropped.
fn remediate(
    b: &mut Builder,
    s: &States,
    wiring: RunbookWiring<'_>,
    timing: RunbookTiming,
    x: &mut Integrations<'_>,
) {
    let States {
        choose,
        branches,
        mark,
        invoke,
        approval_needed,
        project_completed,
        emit,
        start_verify,
        escalate,
        ..
    } = s;
    let mut chooser = Choice::new();
    for branch in branches {
        chooser = chooser.when(
            Cond::string_equals("$.detail.runbook.action", branch.action.as_str()),
            &branch.entry,
        );
    }
    b.define(choose, State::Choice(chooser.otherwise(escalate)));
    for branch in branches {
        if branch.action != Action::DrainNode {
            let mut by_target = Choice::new();
            for (target, _, state) in &branch.targets {
                if let Some(t) = target {
                    by_target = by_target.when(
                        Cond::And(vec![
                            Cond::string_equals("$.detail.runbook.target.namespace", &t.namespace),
                            Cond::string_equals("$.detail.runbook.target.name", &t.name),
                        ]),
                        state,
                    );
                }
            }
            b.define(&branch.entry, State::Choice(by_target.otherwise(escalate)));
        }
        for (_, bounds, state) in &branch.targets {
            let mut request = json!({
                "incident_id.$": "$.detail.incident_id",
                "action": branch.action.as_str(),
                "target.$": "$.detail.runbook.target",
                "dry_run": false,
            });
            if let Some(max) = bounds.max_replicas {
                request["max_replicas"] = json!(max);
            }
            if let Some(parameter) = &bounds.degraded_mode_parameter {
                request["degraded_mode_parameter"] = json!(parameter);
            }
            if let Some(bound) = bounds.approval_above_replicas {
                request["approval_above_replicas"] = json!(bound);
            }
            b.define(
                state,
                State::Pass(
                    Pass::parameters(request, Next::To(mark.clone()))
                        .result_path(ResultPath::At("$.request".into())),
                ),
            );
        }
    }
    b.define(
        mark,
        State::Task(
            x.update_item(
                wiring.table,
                "IncidentsTable",
                json!({
                    "Key": key(),
                    "UpdateExpression": "SET #status = :status, actions_taken = list_append(if_not_exists(actions_taken, :none), :action)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":status": {"S": status::REMEDIATING},
                        ":none": {"L": []},
                        ":action": {"L": [{"S.$": "$.request.action"}]},
                    },
                }),
                Next::To(invoke.clone()),
            )
            .result_path(ResultPath::Discard),
        ),
    );
    b.define(
        invoke,
        State::Task(
            x.invoke(
                wiring.action,
                "RunbookActionFunction",
                "$.request",
                Next::To(approval_needed.clone()),
            )
            .result_selector(json!({"result.$": "$.Payload"}))
            .result_path(ResultPath::At("$.action".into()))
            .timeout_seconds(timing.action_task_timeout_seconds)
            .retry(Retry {
                errors: std::iter::once(ERROR_RETRYABLE)
                    .chain(LAMBDA_SERVICE_ERRORS)
                    .map(String::from)
                    .collect(),
                interval_seconds: 2,
                max_attempts: 3,
                backoff_rate: 2.0,
            })
            // Non-retryable errors, exhausted retries and anything else: escalate.
            .catch(any_error_to(escalate)),
        ),
    );
    project_and_emit(
        b,
        x,
        wiring,
        (project_completed, emit),
        DetailType::ActionCompleted,
        // An `ActionCompleted`: runbook_action's result, with the alert it answers.
        json!({
            "incident_id.$": "$.action.result.incident_id",
            "alert_name.$": "$.detail.alert_name",
            "severity.$": "$.detail.severity",
            "action.$": "$.action.result.action",
            "target.$": "$.action.result.target",
            "outcome.$": "$.action.result.outcome",
            "message.$": "$.action.result.message",
            "completed_at.$": "$$.State.EnteredTime",
        }),
        "$.completed",
        start_verify,
        None,
    );
}

/// Lambda service errors worth a retry (the function itself answered nothing).
const LAMBDA_SERVICE_ERRORS: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

/// A gated action waits for a human: `approval` sends people the links and answers the task
/// token. Approved: the request carries `approved_by` and runs again. Denied, failed: escalate.
/// Nobody before the deadline: the record says so, `approval.decided` goes on the bus, escalate.
#[allow(clippy::too_many_lines)]
fn approve(
    b: &mut Builder,
    s: &States,
    wiring: RunbookWiring<'_>,
    timing: RunbookTiming,
    x: &mut Integrations<'_>,
) {
    let States {
        invoke,
        approval_needed,
        request_approval,
        approval_expired,
        project_expired,
        emit_expired,
        project_completed,
        escalate,
        ..
    } = s;
    let outcome = "$.action.result.outcome";
    b.define(
        approval_needed,
        State::Choice(
            Choice::new()
                .when(
                    Cond::And(vec![
                        Cond::string_equals(outcome, outcome_name(Outcome::NeedsApproval)),
                        Cond::is_present("$.request.approved_by", false),
                    ]),
                    request_approval,
                )
                // Approved and still asking: never ask twice, people decide.
                .when(
                    Cond::string_equals(outcome, outcome_name(Outcome::NeedsApproval)),
                    escalate,
                )
                .otherwise(project_completed),
        ),
    );
    b.define(
        request_approval,
        State::Task(
            x.invoke_for_token(
                wiring.approval,
                "ApprovalFunction",
                // An `ApprovalRequest`.
                json!({
                    "task_token.$": "$$.Task.Token",
                    "incident_id.$": "$.detail.incident_id",
                    "starts_at.$": "$.detail.starts_at",
                    "alert_name.$": "$.detail.alert_name",
                    "severity.$": "$.detail.severity",
                    "summary.$": "$.detail.summary",
                    "request.$": "$.request",
                    "why.$": "$.action.result.message",
                    "requested_at.$": "$$.State.EnteredTime",
                    "timeout_seconds": timing.approval_deadline_seconds,
                }),
                Next::To(invoke.clone()),
            )
            // SendTaskSuccess's output is who approved (a JSON string).
            .result_path(ResultPath::At("$.request.approved_by".into()))
            .timeout_seconds(timing.approval_deadline_seconds)
            .retry(Retry {
                errors: LAMBDA_SERVICE_ERRORS.map(String::from).to_vec(),
                interval_seconds: 2,
                max_attempts: 3,
                backoff_rate: 2.0,
            })
            .catch(Catch {
                errors: vec!["States.Timeout".into()],
                result_path: Some("$.error".into()),
                next: approval_expired.clone(),
            })
            // Denied (`Approval.Denied`), or the request could not be sent: people decide.
            .catch(any_error_to(escalate)),
        ),
    );
    b.define(
        approval_expired,
        State::Task(
            x.update_item(
                wiring.table,
                "IncidentsTable",
                json!({
                    "Key": key(),
                    "UpdateExpression": format!("SET {} = :status, {} = :by, {} = :at", approval::record::STATUS, approval::record::DECIDED_BY, approval::record::DECIDED_AT),
                    "ConditionExpression": format!("{} = :requested", approval::record::STATUS),
                    "ExpressionAttributeValues": {
                        ":status": {"S": Decision::Expired.status()},
                        ":by": {"S": approval::DEADLINE},
                        ":at": {"S.$": "$$.State.EnteredTime"},
                        ":requested": {"S": approval::status::REQUESTED},
                    },
                    "ReturnValues": "ALL_NEW",
                }),
                Next::To(project_expired.clone()),
            )
            .result_selector(json!({"approval_id.$": format!("$.Attributes.{}.S", approval::record::ID)}))
            .result_path(ResultPath::At("$.expired".into()))
            // Decided at the deadline (the endpoint recorded it), or never requested.
            .catch(any_error_to(escalate)),
        ),
    );
    project_and_emit(
        b,
        x,
        wiring,
        (project_expired, emit_expired),
        DetailType::ApprovalDecided,
        // An `ApprovalDecided`.
        json!({
            "incident_id.$": "$.detail.incident_id",
            "alert_name.$": "$.detail.alert_name",
            "severity.$": "$.detail.severity",
            "approval_id.$": "$.expired.approval_id",
            "action.$": "$.request.action",
            "target.$": "$.request.target",
            "decision": Decision::Expired.as_str(),
            "decided_by": approval::DEADLINE,
            "decided_at.$": "$$.State.EnteredTime",
        }),
        "$.decided",
        escalate,
        Some(escalate),
    );
}

/// A `Pass` state (`project`) building a contract detail from `fields` at `path`, then the
/// runbook's `PutEvents` (`emit`) of it as `detail_type`, going on to `next` (and to
/// `on_error` when the put fails, if given).
#[allow(clippy::too_many_arguments)]
fn project_and_emit(
    b: &mut Builder,
    x: &mut Integrations<'_>,
    wiring: RunbookWiring<'_>,
    (project, emit): (&StateId, &StateId),
    detail_type: DetailType,
    fields: serde_json::Value,
    path: &str,
    next: &StateId,
    on_error: Option<&StateId>,
) {
    b.define(
        project,
        State::Pass(
            Pass::parameters(fields, Next::To(emit.clone()))
                .result_path(ResultPath::At(path.into())),
        ),
    );
    let mut put = x
        .put_event(
            wiring.bus,
            "EventBus",
            Source::Runbook.as_str(),
            detail_type.as_str(),
            path,
            Next::To(next.clone()),
        )
        .result_path(ResultPath::Discard);
    if let Some(fallback) = on_error {
        put = put.catch(any_error_to(fallback));
    }
    b.define(emit, State::Task(put));
}

/// Any error (`States.ALL`, kept at `$.error`) goes to `next`.
fn any_error_to(next: &StateId) -> Catch {
    Catch {
        errors: vec![STATES_ALL.into()],
        result_path: Some("$.error".into()),
        next: next.clone(),
    }
}

/// The wire name of an outcome (what `runbook_action`'s result carries).
fn outcome_name(outcome: Outcome) -> String {
    serde_json::to_value(outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Waits the stabilization window and reads the record until it is resolved or the deadline passes.
fn verify(
    b: &mut Builder,
    s: &States,
    wiring: RunbookWiring<'_>,
    timing: RunbookTiming,
    x: &mut Integrations<'_>,
) {
    let States {
        start_verify,
        wait,
        read,
        is_resolved,
        count,
        remediated,
        escalate,
        ..
    } = s;
    let attempts = timing
        .deadline_seconds
        .div_ceil(timing.stabilization_seconds.max(1))
        .max(1);
    b.define(
        start_verify,
        State::Pass(
            Pass::result(json!({"count": 0}), Next::To(wait.clone()))
                .result_path(ResultPath::At("$.attempts".into())),
        ),
    );
    b.define(
        wait,
        State::Wait {
            seconds: timing.stabilization_seconds,
            next: Next::To(read.clone()),
        },
    );
    b.define(
        read,
        State::Task(
            x.get_item(
                wiring.table,
                "IncidentsTable",
                json!({"Key": key(), "ConsistentRead": true, "ProjectionExpression": "#status", "ExpressionAttributeNames": {"#status": "status"}}),
                Next::To(is_resolved.clone()),
            )
            .result_selector(json!({"status.$": "$.Item.status.S"}))
            .result_path(ResultPath::At("$.record".into())),
        ),
    );
    b.define(
        is_resolved,
        State::Choice(
            Choice::new()
                .when(
                    Cond::string_equals("$.record.status", status::RESOLVED),
                    remediated,
                )
                .when(
                    Cond::at_least("$.attempts.count", i64::from(attempts)),
                    escalate,
                )
                .otherwise(count),
        ),
    );
    b.define(
        count,
        State::Pass(
            Pass::parameters(
                json!({"count.$": "States.MathAdd($.attempts.count, 1)"}),
                Next::To(wait.clone()),
            )
            .result_path(ResultPath::At("$.attempts".into())),
        ),
    );
    b.define(remediated, State::Succeed);
}

/// Marks the record escalated and puts `incident.escalated` on the bus: a projection of the
/// incident (the notify rule delivers it, paging only critical ones; the audit log keeps it).
fn escalate(b: &mut Builder, s: &States, wiring: RunbookWiring<'_>, x: &mut Integrations<'_>) {
    let States {
        remediated,
        escalate,
        project_escalation,
        notify,
        escalated,
        ..
    } = s;
    b.define(
        escalate,
        State::Task(
            x.update_item(
                wiring.table,
                "IncidentsTable",
                json!({
                    "Key": key(),
                    "UpdateExpression": "SET #status = :status, escalated_at = :at",
                    "ConditionExpression": "attribute_not_exists(resolved_at)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":status": {"S": status::ESCALATED},
                        ":at": {"S.$": "$$.State.EnteredTime"},
                    },
                }),
                Next::To(project_escalation.clone()),
            )
            .result_path(ResultPath::Discard)
            .catch(Catch {
                errors: vec!["DynamoDB.ConditionalCheckFailedException".into()],
                result_path: Some("$.error".into()),
                next: remediated.clone(),
            }),
        ),
    );
    project_and_emit(
        b,
        x,
        wiring,
        (project_escalation, notify),
        DetailType::IncidentEscalated,
        // An `IncidentEscalated`: not the whole execution state (labels, errors and outputs
        // could pass EventBridge's 256 KB limit and carry more than a pager needs).
        json!({
            "incident_id.$": "$.detail.incident_id",
            "alert_name.$": "$.detail.alert_name",
            "severity.$": "$.detail.severity",
            "summary.$": "$.detail.summary",
            "fingerprint.$": "$.detail.fingerprint",
            "starts_at.$": "$.detail.starts_at",
            "received_at.$": "$.detail.received_at",
            "escalated_at.$": "$$.State.EnteredTime",
            "status": status::ESCALATED,
        }),
        "$.escalation",
        escalated,
        None,
    );
    b.define(escalated, State::Succeed);
}

/// Resolves the record of an `incident.resolved`, with or without a start time; the first writer wins.
#[allow(clippy::too_many_lines)]
fn resolve(
    b: &mut Builder,
    s: &States,
    wiring: RunbookWiring<'_>,
    timing: RunbookTiming,
    x: &mut Integrations<'_>,
) {
    let States {
        resolve_expiry,
        has_start,
        event_start,
        resolve,
        find_start,
        found_start,
        recorded_start,
        resolved_at_start,
        resolve_undated,
        already,
        resolved,
        ..
    } = s;
    b.define(
        resolve_expiry,
        State::Pass(
            Pass::parameters(
                json!({"epoch.$": format!("States.MathAdd($.detail.received_at_epoch, {})", timing.retention_seconds)}),
                Next::To(has_start.clone()),
            )
            .result_path(ResultPath::At("$.expiry".into())),
        ),
    );
    b.define(
        has_start,
        State::Choice(
            Choice::new()
                .when(Cond::string_equals("$.detail.starts_at", ""), find_start)
                .otherwise(event_start),
        ),
    );
    let start_from = |path: &str, next: &StateId| {
        State::Pass(
            Pass::parameters(json!({"value.$": path}), Next::To(next.clone()))
                .result_path(ResultPath::At("$.start".into())),
        )
    };
    b.define(event_start, start_from("$.detail.starts_at", resolve));
    let resolve_update = |with_duration: bool| {
        let mut set = String::from("SET #status = :status, resolved_at = :resolved_at, ");
        let mut values = json!({
            ":status": {"S": status::RESOLVED},
            ":resolved_at": {"S.$": "$.detail.resolved_at"},
            ":name": {"S.$": "$.detail.alert_name"},
            ":expires": {"N.$": "States.Format('{}', $.expiry.epoch)"},
        });
        if with_duration {
            set.push_str("time_to_resolve_seconds = :ttr, ");
            values[":ttr"] =
                json!({"N.$": "States.Format('{}', $.detail.time_to_resolve_seconds)"});
        }
        set.push_str(
            "alert_name = if_not_exists(alert_name, :name), expires_at = if_not_exists(expires_at, :expires)",
        );
        json!({
            "Key": resolve_key(),
            "UpdateExpression": set,
            "ConditionExpression": "attribute_not_exists(resolved_at)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        })
    };
    let first_writer_wins = Catch {
        errors: vec!["DynamoDB.ConditionalCheckFailedException".into()],
        result_path: Some("$.error".into()),
        next: already.clone(),
    };
    b.define(
        resolve,
        State::Task(
            x.update_item(
                wiring.table,
                "IncidentsTable",
                resolve_update(true),
                Next::To(resolved.clone()),
            )
            .result_path(ResultPath::Discard)
            .catch(first_writer_wins.clone()),
        ),
    );
    b.define(
        find_start,
        State::Task(
            x.query(
                wiring.table,
                "IncidentsTable",
                json!({
                    "KeyConditionExpression": "incident_id = :id",
                    "ProjectionExpression": "#ts",
                    "ExpressionAttributeNames": {"#ts": rec::TIMESTAMP},
                    "ExpressionAttributeValues": {":id": {"S.$": "$.detail.incident_id"}},
                    "Limit": 1,
                }),
                Next::To(found_start.clone()),
            )
            .result_selector(json!({"items.$": "$.Items"}))
            .result_path(ResultPath::At("$.found".into())),
        ),
    );
    b.define(
        found_start,
        State::Choice(
            Choice::new()
                .when(Cond::is_present("$.found.items[0]", true), recorded_start)
                .otherwise(resolved_at_start),
        ),
    );
    b.define(
        recorded_start,
        start_from(
            &format!("$.found.items[0].{}.S", rec::TIMESTAMP),
            resolve_undated,
        ),
    );
    b.define(
        resolved_at_start,
        start_from("$.detail.resolved_at", resolve_undated),
    );
    b.define(
        resolve_undated,
        State::Task(
            x.update_item(
                wiring.table,
                "IncidentsTable",
                resolve_update(false),
                Next::To(resolved.clone()),
            )
            .result_path(ResultPath::Discard)
            .catch(first_writer_wins),
        ),
    );
    b.define(already, State::Succeed);
    b.define(resolved, State::Succeed);
}

fn pascal(snake: &str) -> String {
    crate::cfn::LogicalId::from_path(&[snake])
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default()
}
