//! What local runs change in a template so moto (the AWS emulator the tests and the loop
//! harness deploy to) accepts it. Each change works around a moto 5.2 defect and is named in
//! the list [`for_moto`] returns, which the callers print; on AWS the original is deployed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The copy of `template` sent to moto, and what was changed for it. Each change works around a
/// moto 5.2 defect; on AWS the original is what CloudFormation expects:
/// - `AWS::KMS::Key` `Tags`: moto reads them as KMS API tags (`TagKey`) and fails;
/// - `AWS::SSM::Parameter` `Tags`: CloudFormation's map of strings, moto expects a list;
/// - `Ref` to an `AWS::Events::EventBus` yields moto's bus object, not its name: replaced by the
///   name the bus is created with (the value `Ref` has on AWS);
/// - `AWS::ApiGateway::DomainName` is not implemented, so the `Fn::GetAtt` of the webhook
///   domain's alias record fails validation: the custom domain (domain, base path mapping,
///   record) is removed from the copy. The seam test checks what the domain serves instead;
/// - a rule target's plain-text `InputTemplate` (AWS delivers it as text) makes moto's
///   `PutEvents` fail with a 500 (it parses every template as JSON): it becomes the JSON string
///   of the same text, which moto delivers with quotes (the readers take the string back out).
pub fn for_moto(template: &Value) -> (Value, Vec<String>) {
    let mut t = template.clone();
    let mut changes = Vec::new();
    let domain: Vec<String> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            matches!(
                r["Type"].as_str(),
                Some(
                    "AWS::ApiGateway::DomainName"
                        | "AWS::ApiGateway::BasePathMapping"
                        | "AWS::Route53::RecordSet"
                )
            )
        })
        .map(|(id, _)| id.clone())
        .collect();
    if !domain.is_empty() {
        for id in &domain {
            t["Resources"].as_object_mut().unwrap().remove(id);
        }
        changes.push(format!("custom domain removed: {}", domain.join(", ")));
    }
    let mut buses = BTreeMap::new();
    for (id, r) in t["Resources"].as_object_mut().unwrap() {
        let kind = r["Type"].as_str().unwrap().to_owned();
        if matches!(kind.as_str(), "AWS::KMS::Key" | "AWS::SSM::Parameter")
            && r["Properties"]
                .as_object_mut()
                .unwrap()
                .remove("Tags")
                .is_some()
        {
            changes.push(format!("{id}: Tags removed"));
        }
        if kind == "AWS::Events::EventBus" {
            buses.insert(id.clone(), r["Properties"]["Name"].clone());
        }
    }
    fn unref(v: &mut Value, buses: &BTreeMap<String, Value>, n: &mut usize) {
        match v {
            Value::Object(map) => {
                if map.len() == 1
                    && let Some(name) = map
                        .get("Ref")
                        .and_then(Value::as_str)
                        .and_then(|r| buses.get(r))
                {
                    *v = name.clone();
                    *n += 1;
                    return;
                }
                map.values_mut().for_each(|x| unref(x, buses, n));
            }
            Value::Array(items) => items.iter_mut().for_each(|x| unref(x, buses, n)),
            _ => {}
        }
    }
    let mut quoted = 0;
    for r in t["Resources"].as_object_mut().unwrap().values_mut() {
        if r["Type"] != "AWS::Events::Rule" {
            continue;
        }
        for target in r["Properties"]["Targets"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            let Some(template) = target
                .get_mut("InputTransformer")
                .and_then(|x| x.get_mut("InputTemplate"))
            else {
                continue;
            };
            if let Some(text) = template.as_str()
                && serde_json::from_str::<Value>(text).is_err()
            {
                *template = Value::String(Value::String(text.to_owned()).to_string());
                quoted += 1;
            }
        }
    }
    if quoted > 0 {
        changes.push(format!(
            "{quoted} plain-text InputTemplate(s) written as JSON strings"
        ));
    }
    let mut n = 0;
    unref(&mut t, &buses, &mut n);
    if n > 0 {
        changes.push(format!("{n} Ref(s) to the event bus replaced by its name"));
    }
    // moto models no EKS resource, and refuses a template whose output reads an attribute of
    // one (`Fn::GetAtt` of an unknown type fails validation): those outputs are removed.
    let eks: BTreeSet<String> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            r["Type"]
                .as_str()
                .is_some_and(|k| k.starts_with("AWS::EKS::"))
        })
        .map(|(id, _)| id.clone())
        .collect();
    if let Some(outputs) = t.get_mut("Outputs").and_then(Value::as_object_mut) {
        let gone: Vec<String> = outputs
            .iter()
            .filter(|(_, o)| {
                o["Value"]["Fn::GetAtt"][0]
                    .as_str()
                    .is_some_and(|id| eks.contains(id))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            outputs.remove(k);
        }
        if !gone.is_empty() {
            changes.push(format!(
                "outputs reading EKS attributes removed: {}",
                gone.join(", ")
            ));
        }
    }
    (t, changes)
}

/// The template's text with its `Resources` in an order where each resource comes after those
/// it names in `DependsOn` (alphabetical otherwise), and whether that differs from the
/// alphabetical order. moto 5.2 executes a change set's additions in the file's order and
/// follows `Ref`s but not `DependsOn` (an API Gateway `Deployment` created before its `Method`s
/// fails with "The REST API doesn't contain any methods"); CloudFormation itself ignores the
/// order.
pub fn in_dependency_order(template: &Value) -> (String, bool) {
    let empty = serde_json::Map::new();
    let resources = template["Resources"].as_object().unwrap_or(&empty);
    fn visit<'a>(
        id: &'a str,
        resources: &'a serde_json::Map<String, Value>,
        done: &mut BTreeSet<&'a str>,
        order: &mut Vec<&'a str>,
    ) {
        if !done.insert(id) {
            return;
        }
        let deps: Vec<&str> = match &resources[id]["DependsOn"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for d in deps {
            if let Some((k, _)) = resources.get_key_value(d) {
                visit(k, resources, done, order);
            }
        }
        order.push(id);
    }
    let mut done = BTreeSet::new();
    let mut order = Vec::new();
    for id in resources.keys() {
        visit(id, resources, &mut done, &mut order);
    }
    let moved = order
        .iter()
        .copied()
        .ne(resources.keys().map(String::as_str));
    let mut text = String::from("{");
    let mut first = true;
    let mut field = |text: &mut String, key: &str, value: String| {
        if !first {
            text.push(',');
        }
        first = false;
        text.push_str(&Value::String(key.to_owned()).to_string());
        text.push(':');
        text.push_str(&value);
    };
    for (key, value) in template.as_object().unwrap_or(&empty) {
        if key == "Resources" {
            let body: Vec<String> = order
                .iter()
                .map(|id| format!("{}:{}", Value::String((*id).to_owned()), resources[*id]))
                .collect();
            field(&mut text, key, format!("{{{}}}", body.join(",")));
        } else {
            field(&mut text, key, value.to_string());
        }
    }
    text.push('}');
    (text, moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_follow_their_depends_on() {
        let t = serde_json::json!({
            "Resources": {
                "A": {"Type": "X", "DependsOn": ["C"]},
                "B": {"Type": "X"},
                "C": {"Type": "X", "DependsOn": "B"},
            },
            "Outputs": {}
        });
        let (text, moved) = in_dependency_order(&t);
        assert!(moved);
        let b = text.find("\"B\"").unwrap();
        let c = text.find("\"C\"").unwrap();
        let a = text.find("\"A\"").unwrap();
        assert!(b < c && c < a, "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, t, "only the order changes");
    }
}
