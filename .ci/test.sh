#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the validators the tests run (project-local:
# .tools/venv for Python tools), then formatting, lints, docs, tests, and the staleness checks of
# generated code and out/.
#
#   .ci/test.sh            everything
#   SKIP_INSTALL=1 .ci/test.sh   reuse the installed tools
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

if [ -z "${SKIP_INSTALL:-}" ]; then
  step "installing validators into .tools/ (pinned in .ci/requirements.txt)"
  if [ ! -x .tools/venv/bin/python ]; then
    python3 -m venv .tools/venv
  fi
  if ! .tools/venv/bin/pip freeze 2>/dev/null | sort | comm -13 - <(grep -vE '^\s*(#|$)' .ci/requirements.txt | sort) | grep -q .; then
    echo "already installed"
  else
    .tools/venv/bin/pip install --quiet --disable-pip-version-check -r .ci/requirements.txt
  fi
fi

# Debian packages the tests run (promtool for the checkout service's metrics; more tools
# join as the model grows). Installed only when missing.
if [ -z "${SKIP_INSTALL:-}" ]; then
  missing=()
  command -v promtool >/dev/null || missing+=(prometheus)
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing Debian packages: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi
if [ -z "${SKIP_INSTALL:-}" ]; then
  step "installing Node validators into .ci/node_modules (pinned in .ci/package-lock.json)"
  (cd .ci && npm ci --no-audit --no-fund --loglevel=error)
fi
export PATH="$root/.tools/venv/bin:$PATH"
export CFN_LINT="$root/.tools/venv/bin/cfn-lint"
export CHECKOV="$root/.tools/venv/bin/checkov"
export ASL_VALIDATOR="$root/.ci/node_modules/.bin/asl-validator"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "cargo test --workspace"
cargo test --workspace

step "generated resource types are current (cargo run -p cfn-codegen -- --check)"
cargo run --quiet -p cfn-codegen -- --check

step "out/ is current (cargo run -p synth -- --check)"
cargo run --quiet -p synth -- --check

echo
echo "all checks passed"
