#!/usr/bin/env bash
# Builds the Lambda bootstraps for provided.al2023 (x86_64): one command.
#
#   lambdas/build.sh        -> target/lambda/{alert_ingest,runbook_action}/bootstrap.zip
#                              and target/lambda/manifest.json (sha256 of each zip)
#
# cargo-zigbuild links against glibc 2.34 (what provided.al2023 has) with the host's Rust
# standard library; zig and cargo-zigbuild come from PyPI (lambdas/build-requirements.txt) into
# .tools/lambda-venv. Profile `lambda` (root Cargo.toml): opt-level s, fat LTO, one codegen
# unit, panic=abort, stripped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv=.tools/lambda-venv
if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r lambdas/build-requirements.txt
fi
export PATH="$root/$venv/bin:$PATH"
target_dir=${CARGO_TARGET_DIR:-$root/target}
glibc=2.34
cargo zigbuild --quiet --profile lambda --target "x86_64-unknown-linux-gnu.$glibc" -p lambdas --bins
python3 lambdas/package.py "$target_dir/x86_64-unknown-linux-gnu/lambda" "$root/target/lambda" "$glibc" \
  alert_ingest runbook_action
