"""Evaluates a ValidatingAdmissionPolicy on admission requests the way the API server does, with
a real CEL implementation: cel-expr-python (PyPI, Google's CEL C++ runtime behind Python), pinned
in .ci/requirements.txt and installed into .tools/venv by .ci/test.sh.

    .tools/venv/bin/python .ci/cel/vap.py INPUT.json

INPUT.json: {"policy": <ValidatingAdmissionPolicy>, "cases": [{"name", "request", "object",
"oldObject"}, ...]}; `request` is the AdmissionRequest as the API server hands it to CEL
(converted with omitempty: an empty field is absent). Prints, per case, whether the policy's
matchConstraints and matchConditions apply to it, the messages of the validations that refused
it, and any evaluation error; exit 0. Exit 2 when an expression does not compile.

What is emulated (k8s.io/apiserver/pkg/admission/plugin/policy/validating):
- resourceRules matching on group, version, resource[/subresource] and operation (no
  namespaceSelector, objectSelector, excludeResourceRules or matchPolicy conversion);
- matchConditions: all true -> the policy applies; one false -> it does not; an error ->
  failurePolicy (Fail: refused);
- variables, in order, visible to later ones as `variables.<name>`; one whose evaluation fails
  is left unbound, so an expression that reads it fails (the API server evaluates them lazily,
  with the same outcome);
- validations: false -> refused with `message`; an error or a non-bool -> refused
  (failurePolicy Fail);
- compilation: a syntax or type error, or a condition or validation whose type is not bool,
  exits 2 (the API server refuses such an expression).

What is not: the declarations are `dyn` (the API server declares object/oldObject dyn too, but
`request` with its own type, and type-checks every expression against the resource's OpenAPI
schema for warnings); no Kubernetes CEL library (quantity, url, ip, cidr, format, semver,
authorizer, regex/list extensions), no `optional` types, and no cost estimation or runtime cost
limits (per expression and per policy). The expressions under test use none of these libraries;
their cost is not checked here.
"""

import json
import sys

from cel_expr_python import cel

DYN = cel.Type.DYN
ENV = cel.NewEnv(
    variables={"object": DYN, "oldObject": DYN, "request": DYN, "variables": DYN}
)


def compile_all(spec):
    """Compiles (with the type checker) every expression of the policy."""
    errors, out = [], {"matchConditions": [], "variables": [], "validations": []}
    for section in out:
        for item in spec.get(section, []):
            what = f"{section} {item.get('name', item['expression'])}"
            try:
                expr = ENV.compile(item["expression"])
            except Exception as e:  # noqa: BLE001 - reported, not hidden
                errors.append(f"{what}: {e}")
                continue
            # As the API server: conditions and validations must be of type bool.
            if section != "variables" and expr.return_type() != cel.Type.BOOL:
                errors.append(f"{what}: must evaluate to bool, not {expr.return_type().name()}")
            out[section].append((item, expr))
    return out, errors


def evaluate(expr, data):
    """(value, None) or (None, error text)."""
    try:
        r = expr.eval(data=data)
    except Exception as e:  # noqa: BLE001
        return None, str(e)
    if r.type() == cel.Type.ERROR:
        return None, str(r.value())
    # A plain Python value, so that a variable's value can be bound again.
    return r.plain_value(), None


def rule_matches(rule, request):
    resource = request.get("resource", {})
    name = resource.get("resource", "")
    if request.get("subResource"):
        name = f"{name}/{request['subResource']}"

    def ok(values, value):
        return "*" in values or value in values

    return (
        ok(rule.get("apiGroups", []), resource.get("group", ""))
        and ok(rule.get("apiVersions", []), resource.get("version", ""))
        and ok(rule.get("resources", []), name)
        and ok(rule.get("operations", []), request.get("operation", ""))
    )


def run_case(spec, compiled, case):
    request = case["request"]
    result = {"name": case["name"], "matched": False, "refusals": [], "errors": []}
    rules = spec.get("matchConstraints", {}).get("resourceRules", [])
    if not any(rule_matches(r, request) for r in rules):
        return result
    data = {
        "object": case.get("object"),
        "oldObject": case.get("oldObject"),
        "request": request,
        "variables": {},
    }
    fail_closed = spec.get("failurePolicy", "Fail") == "Fail"
    for item, expr in compiled["matchConditions"]:
        value, error = evaluate(expr, data)
        if error is not None:
            result["errors"].append(f"matchCondition {item['name']}: {error}")
            result["matched"] = fail_closed
            if fail_closed:
                result["refusals"].append(f"matchCondition {item['name']} failed: {error}")
            return result
        if value is not True:
            return result
    result["matched"] = True
    variables = {}
    for item, expr in compiled["variables"]:
        value, error = evaluate(expr, {**data, "variables": dict(variables)})
        if error is None:
            variables[item["name"]] = value
    data["variables"] = variables
    for item, expr in compiled["validations"]:
        value, error = evaluate(expr, data)
        if error is not None or not isinstance(value, bool):
            why = error if error is not None else f"not a bool: {value!r}"
            result["errors"].append(f"{item['expression']}: {why}")
            if fail_closed:
                result["refusals"].append(f"expression error: {why}")
        elif value is False:
            result["refusals"].append(item.get("message") or item["expression"])
    return result


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    spec = data["policy"]["spec"]
    compiled, errors = compile_all(spec)
    if errors:
        json.dump({"compile_errors": errors}, sys.stdout, indent=1)
        sys.exit(2)
    json.dump(
        {"results": [run_case(spec, compiled, c) for c in data["cases"]]},
        sys.stdout,
        indent=1,
    )


if __name__ == "__main__":
    main()
