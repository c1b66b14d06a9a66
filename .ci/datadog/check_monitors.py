"""Checks Datadog monitor definitions (the monitor API's JSON) against Datadog's own API client
models (PyPI datadog-api-client, generated from Datadog's OpenAPI specification).

The client's deserializer checks types but lets unknown keys and unknown enum values through,
so this script also walks every object against its model's attributes and every enum against
its allowed values, and checks what Datadog's API refuses at creation: a metric monitor's
critical threshold must be the number its query compares with. Usage:

    check_monitors.py FILE...

Prints one line per problem and exits 1 when there is any.
"""
import json
import re
import sys

from datadog_api_client import Configuration
from datadog_api_client.api_client import ApiClient
from datadog_api_client.model_utils import ModelComposed, ModelNormal, ModelSimple
from datadog_api_client.v1.model.monitor import Monitor


def walk(model, data, path, problems):
    """Every key of `data` must be an attribute of `model`, every enum value an allowed one."""
    if isinstance(model, ModelSimple):
        allowed = getattr(model, "allowed_values", None) or set()
        values = set()
        for v in allowed.values() if isinstance(allowed, dict) else allowed:
            values.update(v.values() if isinstance(v, dict) else [v])
        if values and data not in values:
            problems.append(f"{path}: {data!r} is not one of {sorted(values)}")
        return
    if not isinstance(model, (ModelNormal, ModelComposed)) or not isinstance(data, dict):
        return
    attrs = model.attribute_map  # python name -> JSON name
    json_to_py = {j: p for p, j in attrs.items()}
    for key, value in data.items():
        if key not in json_to_py:
            problems.append(f"{path}.{key}: not a field of {type(model).__name__}")
            continue
        child = getattr(model, json_to_py[key], None)
        if isinstance(value, list) and isinstance(child, list):
            for i, (m, v) in enumerate(zip(child, value)):
                walk(m, v, f"{path}.{key}[{i}]", problems)
        else:
            walk(child, value, f"{path}.{key}", problems)


def check(path):
    problems = []
    with open(path) as f:
        data = json.load(f)
    client = ApiClient(Configuration())
    try:
        monitor = client.deserialize(json.dumps(data), (Monitor,), True)
    except Exception as e:  # the client's own type errors
        return [f"{path}: {type(e).__name__}: {e}"]
    walk(monitor, data, path, problems)
    for field in ("name", "type", "query", "message"):
        if not data.get(field):
            problems.append(f"{path}.{field}: missing (the API requires it)")
    if data.get("type") == "query alert":
        m = re.search(r"(>=|<=|>|<)\s*(-?[0-9.]+)\s*$", data.get("query", ""))
        critical = data.get("options", {}).get("thresholds", {}).get("critical")
        if not m:
            problems.append(f"{path}.query: a metric monitor's query ends with a comparison")
        elif critical is None or float(m.group(2)) != float(critical):
            problems.append(
                f"{path}.options.thresholds.critical ({critical}) differs from the query's {m.group(2)}"
            )
    for tag in data.get("tags", []):
        if "," in tag or " " in tag:
            problems.append(f"{path}.tags: {tag!r} has a comma or a space")
    return problems


def main():
    problems = []
    for path in sys.argv[1:]:
        problems.extend(check(path))
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
