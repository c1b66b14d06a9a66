#!/usr/bin/env bash
# Vendors the CloudFormation resource provider schemas that cfn-codegen reads.
#
# The schemas come from the PyPI package cfn-lint (pinned below), which ships AWS's registry
# schemas per region. This script installs it into a throwaway venv and copies the us-east-1
# schema of every resource type of the services below into ./schemas/, one file per type
# (AWS::SQS::Queue -> AWS_SQS_Queue.json), pretty-printed with sorted keys so diffs stay
# readable. Generation itself needs no Python: run `cargo run -p cfn-codegen` afterwards.
set -euo pipefail

CFN_LINT_VERSION=1.58.0
SERVICES=(Events StepFunctions DynamoDB IAM Lambda SNS SQS KMS Logs CloudWatch ApiGateway SSM S3 EKS EC2 SecretsManager Route53 ECR)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/schemas"
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT

python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "cfn-lint==$CFN_LINT_VERSION"

rm -rf "$out"
mkdir -p "$out"
"$venv/bin/python" - "$out" "$CFN_LINT_VERSION" "${SERVICES[@]}" <<'PY'
import json, os, sys
import cfnlint

out, version, services = sys.argv[1], sys.argv[2], sys.argv[3:]
data = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
with open(os.path.join(data, "providers", "us-east-1.json")) as f:
    index = json.load(f)
with open(os.path.join(data, "version.json")) as f:
    schema_date = json.load(f)["schema_date"]

written = []
for type_name, digest in sorted(index.items()):
    parts = type_name.split("::")
    if len(parts) != 3 or parts[0] != "AWS" or parts[1] not in services:
        continue
    with open(os.path.join(data, "resources", digest + ".json")) as f:
        schema = json.load(f)
    with open(os.path.join(out, type_name.replace("::", "_") + ".json"), "w") as f:
        json.dump(schema, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    written.append(type_name)

with open(os.path.join(out, "SOURCE.md"), "w") as f:
    f.write(
        "# Vendored CloudFormation resource provider schemas\n\n"
        f"- Package: cfn-lint {version} (PyPI), `cfnlint/data/schemas/resources/*.json`,\n"
        "  selected through `cfnlint/data/schemas/providers/us-east-1.json`\n"
        f"- schema_date: {schema_date}\n"
        f"- Services: {', '.join('AWS::' + s for s in services)}\n"
        f"- Resource types: {len(written)}\n\n"
        "Written by `vendor-schemas.sh`; do not edit by hand. `cargo run -p cfn-codegen` turns them\n"
        "into `platform-model/resources/src/`.\n"
    )
print(f"wrote {len(written)} schemas to {out}")
PY
