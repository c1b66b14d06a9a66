#!/usr/bin/env bash
# Builds the Lambda bootstraps for provided.al2023, for the architecture each function declares.
#
#   lambdas/build.sh [--env dev|staging|prod|all] [--smoke] [--profile lambda] [--out out]
#
# What to build comes from synth's out/<env>/manifest.json `assets` (all environments by
# default): each distinct (architecture, rust_target, function) is built with
#   cargo zigbuild --profile lambda --target <rust_target>.2.34 -p lambdas --bin <fn>...
# and packaged (lambdas/package.py: ELF machine = the declared architecture, GLIBC <= 2.34,
# deterministic zip) into the asset's `zip` path, target/lambda/<arch>/<fn>/bootstrap.zip, with
# target/lambda/manifest.json listing them. Then lambdas/check-package.py checks each zip's
# bootstrap against the function's `Architectures` in out/<env>/sre-pipeline.template.json.
# --smoke also runs every zip of every environment under a loopback Lambda Runtime API with the
# variables its template gives the function (lambdas/smoke/run.py; arm64 under qemu-user,
# installed with apt-get when missing).
#
# A Rust target that is missing is added with rustup; if that fails the build stops (exit 3,
# "target unavailable"): it never falls back to another architecture. cargo-zigbuild links against glibc 2.34 with the
# host's Rust standard library; zig and cargo-zigbuild come from PyPI
# (lambdas/build-requirements.txt) into .tools/lambda-venv. Profile `lambda` (root Cargo.toml):
# opt-level s, fat LTO, one codegen unit, panic=abort, stripped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

env=all
out=out
profile=lambda
smoke=""
usage() { sed -n '4p' "$0" | sed 's/^#   /usage: /'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --env) env=${2:?--env needs a value}; shift 2 ;;
    --env=*) env=${1#*=}; shift ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --profile) profile=${2:?--profile needs a value}; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    --smoke) smoke=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "lambdas/build.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

glibc=2.34
# One line per (architecture, rust_target, function, zip); fails on a manifest without
# architectures rather than assuming one.
plan=$(python3 lambdas/assets.py "$out" "$env")

venv=.tools/lambda-venv
if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r lambdas/build-requirements.txt
fi
export PATH="$root/$venv/bin:$PATH"
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$profile" in dev) profile_dir=debug ;; *) profile_dir=$profile ;; esac

package_args=()
for arch in $(cut -f1 <<<"$plan" | sort -u); do
  rust_target=$(awk -F'\t' -v a="$arch" '$1 == a { print $2; exit }' <<<"$plan")
  functions=$(awk -F'\t' -v a="$arch" '$1 == a { print $3 }' <<<"$plan" | sort -u)
  if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$rust_target/lib" ]; then
    echo "Rust target $rust_target (for $arch) is not installed: rustup target add $rust_target"
    if ! rustup target add "$rust_target"; then
      echo "error: could not add the Rust target $rust_target; the $arch functions ($(echo $functions)) cannot be built." >&2
      echo "error: not building them for another architecture: Lambda would fail to start them (exec format error)." >&2
      exit 3
    fi
  fi
  bins=()
  for fn in $functions; do bins+=(--bin "$fn"); done
  echo "building $(echo $functions) for $arch ($rust_target, glibc $glibc, profile $profile)"
  start=$SECONDS
  cargo zigbuild --quiet --profile "$profile" --target "$rust_target.$glibc" -p lambdas "${bins[@]}"
  echo "built $arch in $((SECONDS - start)) s"
  while IFS=$'\t' read -r a _ fn zip; do
    [ "$a" = "$arch" ] || continue
    package_args+=(--asset "$fn" "$arch" "$target_dir/$rust_target/$profile_dir/$fn" "$zip")
  done <<<"$plan"
done

python3 lambdas/package.py --max-glibc "$glibc" --manifest target/lambda/manifest.json "${package_args[@]}"
python3 lambdas/check-package.py --out "$out" --env "$env"

if [ -n "$smoke" ]; then
  # Each zip of each environment, started with that environment's template variables.
  envs=$env
  [ "$env" = all ] && envs="dev staging prod"
  for e in $envs; do
    for zip in $(python3 lambdas/assets.py "$out" "$e" | cut -f4); do
      python3 lambdas/smoke/run.py --install --out "$out" --env "$e" "$zip"
    done
  done
fi
