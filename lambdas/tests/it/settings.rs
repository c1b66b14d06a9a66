//! Each function reads every variable the runtime contract declares for it, and only those:
//! `Settings::read` of each is run against a recording lookup holding a value for every
//! declared variable, and the binaries build their configuration from `Settings::read` alone.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use lambdas::env::Env;
use platform_contract::runtime::{Binary, Kind, Var};

/// A valid value of `var`.
fn sample(var: &Var) -> String {
    match (var.name, var.kind) {
        ("DRAIN_NODE_SELECTOR", _) => {
            "eks.amazonaws.com/nodegroup=prod-workers,kubernetes.io/os=linux".into()
        }
        (_, Kind::Integer { min, .. } | Kind::Seconds { min, .. } | Kind::Millis { min, .. }) => {
            (min + 1).to_string()
        }
        (_, Kind::List) => "apps,payments".into(),
        (_, Kind::LogFilter) => "lambdas=debug,info".into(),
        (_, Kind::LogLevel) => "info".into(),
        (_, Kind::Bool) => "true".into(),
        (_, Kind::Ratio) => "0.5".into(),
        (_, Kind::Text) => format!("{}-value", var.name.to_ascii_lowercase()),
    }
}

/// The names `read` looked up, given a value for every variable of `binary`.
fn names_read<T>(
    binary: Binary,
    read: impl Fn(&Env<'_>) -> Result<T, lambdas::env::VarError>,
) -> (BTreeSet<String>, T) {
    let values: BTreeMap<&str, String> =
        binary.vars().iter().map(|v| (v.name, sample(v))).collect();
    let seen = RefCell::new(BTreeSet::new());
    let lookup = |name: &str| {
        seen.borrow_mut().insert(name.to_string());
        values.get(name).cloned()
    };
    let settings = read(&Env::new(&lookup)).unwrap_or_else(|e| panic!("{binary}: {e}"));
    (seen.into_inner(), settings)
}

fn declared(binary: Binary) -> BTreeSet<String> {
    binary.vars().iter().map(|v| v.name.to_string()).collect()
}

fn bin_source(binary: Binary) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/bin")
        .join(format!("{}.rs", binary.name()));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_declared_variable_is_read_by_its_binary() {
    let (read, settings) = names_read(Binary::AlertIngest, lambdas::ingest::Settings::read);
    assert_eq!(read, declared(Binary::AlertIngest), "alert_ingest");
    assert_eq!(settings.max_body_bytes, 1025);
    assert_eq!(settings.log_filter, "lambdas=debug,info");
    assert_eq!(settings.region.as_deref(), Some("aws_region-value"));

    let (read, settings) = names_read(Binary::RunbookAction, lambdas::runbook::Settings::read);
    assert_eq!(read, declared(Binary::RunbookAction), "runbook_action");
    assert_eq!(settings.guards.max_cordoned_nodes, 2);
    assert_eq!(
        settings.guards.drain_node_selector.to_string(),
        "eks.amazonaws.com/nodegroup=prod-workers,kubernetes.io/os=linux"
    );
    assert_eq!(settings.guards.rate_limit, Duration::from_secs(1));
    assert_eq!(settings.drain_timeout, Duration::from_secs(2));
    assert_eq!(
        settings.guards.allowed_namespaces,
        BTreeSet::from(["apps".to_string(), "payments".to_string()])
    );

    let (read, settings) = names_read(Binary::Approval, lambdas::approval::Settings::read);
    assert_eq!(read, declared(Binary::Approval), "approval");
    assert_eq!(settings.public_url, "public_url-value");
    assert_eq!(settings.log_filter, "lambdas=debug,info");

    // The binaries take their whole configuration from `Settings::read`: nothing else reads a
    // variable there.
    for binary in [Binary::AlertIngest, Binary::RunbookAction, Binary::Approval] {
        let source = bin_source(binary);
        assert_eq!(
            source.matches("Settings::read(&env::process())").count(),
            1,
            "{binary}"
        );
        assert!(
            !source.contains("vars::"),
            "{binary} reads a variable itself"
        );
    }
}

#[test]
fn drain_variables_errors_name_the_variable() {
    let read = |selector: Option<&str>, cap: &str| {
        let values: BTreeMap<&str, String> = Binary::RunbookAction
            .vars()
            .iter()
            .map(|v| (v.name, sample(v)))
            .chain([("MAX_CORDONED_NODES", cap.to_string())])
            .filter(|(k, _)| *k != "DRAIN_NODE_SELECTOR")
            .chain(selector.map(|s| ("DRAIN_NODE_SELECTOR", s.to_string())))
            .collect();
        let lookup = |name: &str| values.get(name).cloned();
        lambdas::runbook::Settings::read(&Env::new(&lookup)).map_err(|e| e.to_string())
    };
    assert!(read(Some("role=worker"), "3").is_ok());
    assert!(
        read(None, "3")
            .unwrap_err()
            .starts_with("DRAIN_NODE_SELECTOR: missing"),
    );
    for (bad, why) in [
        ("nodegroup", "has no '='"),
        ("role!=system", "only equality"),
        ("role==worker", "only equality"),
        ("role=worker,role=gpu", "given twice"),
        ("Role Group=x", "not a label key"),
        ("role=-bad-", "not a label value"),
        ("role=worker,", "has no '='"),
    ] {
        let error = read(Some(bad), "3").unwrap_err();
        assert!(
            error.starts_with(&format!(
                "DRAIN_NODE_SELECTOR={bad:?}: expected a label selector key=value[,key=value]"
            )) && error.contains(why),
            "{bad}: {error}"
        );
    }
    assert!(
        read(Some("role=worker"), "0")
            .unwrap_err()
            .starts_with("MAX_CORDONED_NODES=\"0\": expected a whole number from 1 to 100")
    );
}
