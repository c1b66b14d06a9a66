#!/usr/bin/env python3
"""Check that every packaged bootstrap runs on the architecture its function declares.

    check-package.py [--out OUT_DIR] [--env dev|staging|prod|all] [--root REPO_ROOT]

For each asset of OUT_DIR/<env>/manifest.json: the AWS::Lambda::Function resources of
OUT_DIR/<env>/sre-pipeline.template.json whose Code.S3Key is the asset's s3_key (there must be
at least one) declare Properties.Architectures[0] (absent = x86_64, Lambda's default); that
must equal the asset's `architecture`, and the ELF e_machine of `bootstrap` read from inside
the asset's zip (not the loose binary) must be that architecture's. The zip must exist, hold
`bootstrap` with the executable bit set. A Lambda function in the template whose S3Key no asset
names is an error too (nothing would build its code). Exits 1 listing every problem.
"""
import argparse
import json
import os
import sys
import zipfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from assets import ARCHITECTURES, AssetError, elf_machine, environments, load, machine_name  # noqa: E402

TEMPLATE = "sre-pipeline.template.json"


def functions_by_key(template: dict) -> dict:
    """S3Key (plain string) -> [(logical id, declared architecture)]."""
    found = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        props = resource.get("Properties") or {}
        key = (props.get("Code") or {}).get("S3Key")
        archs = props.get("Architectures") or ["x86_64"]
        found.setdefault(key if isinstance(key, str) else None, []).append((logical_id, archs[0]))
    return found


def zipped_machine(zip_path: str) -> int:
    try:
        with zipfile.ZipFile(zip_path) as z:
            try:
                info = z.getinfo("bootstrap")
            except KeyError:
                raise AssetError(f"{zip_path} has no `bootstrap` entry ({', '.join(z.namelist())})")
            if not (info.external_attr >> 16) & 0o111:
                raise AssetError(f"{zip_path}: `bootstrap` is not executable "
                                 f"(mode {oct((info.external_attr >> 16) & 0o7777)})")
            with z.open(info) as f:
                return elf_machine(f.read(20), f"{zip_path}:bootstrap")
    except FileNotFoundError:
        raise AssetError(f"{zip_path} is missing: run lambdas/build.sh")
    except zipfile.BadZipFile as e:
        raise AssetError(f"{zip_path} is not a zip: {e}")


def check_env(out_dir: str, env: str, root: str) -> list:
    problems = []
    assets = load(out_dir, env)
    path = os.path.join(out_dir, env, TEMPLATE)
    try:
        with open(path) as f:
            template = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        return [f"{path}: {e}"]
    by_key = functions_by_key(template)
    for logical_id, _ in by_key.pop(None, []):
        problems.append(f"{path}: {logical_id} has no plain-string Code.S3Key; cannot match it to an asset")
    keys = {a["s3_key"] for a in assets}
    for key, functions in sorted(by_key.items()):
        if key not in keys:
            ids = ", ".join(f for f, _ in functions)
            problems.append(f"{path}: {ids} uses S3Key {key}, which no asset in the manifest names")
    for asset in assets:
        name, arch, zip_rel = asset["function"], asset["architecture"], asset["zip"]
        functions = by_key.get(asset["s3_key"], [])
        if not functions:
            problems.append(f"{env}: no AWS::Lambda::Function in {path} has Code.S3Key "
                            f"{asset['s3_key']} ({name})")
            continue
        try:
            machine = zipped_machine(os.path.normpath(os.path.join(root, zip_rel)))
        except AssetError as e:
            problems.append(f"{env}: {name}: {e}")
            continue
        for logical_id, declared in functions:
            if declared not in ARCHITECTURES:
                problems.append(f"{env}: {logical_id} declares Architectures [{declared!r}], not a Lambda architecture")
            elif declared != arch:
                problems.append(f"{env}: {logical_id} declares {declared} but the manifest builds {name} for {arch}")
            elif machine != ARCHITECTURES[declared][1]:
                problems.append(
                    f"{env}: {logical_id} declares {declared}, but {zip_rel} holds an {machine_name(machine)} "
                    "bootstrap: it would fail at cold start (exec format error)")
            else:
                print(f"{env}: {logical_id} ({name}) {declared} = {zip_rel} bootstrap {machine_name(machine)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out", help="synth's output folder (default out)")
    parser.add_argument("--env", default="all", help="dev, staging, prod or all (default)")
    parser.add_argument("--root", default=".", help="the zips' paths are relative to this (default .)")
    args = parser.parse_args()
    problems = []
    try:
        for env in environments(args.env):
            problems += check_env(args.out, env, args.root)
    except AssetError as e:
        problems.append(str(e))
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        print(f"check-package: {len(problems)} problem(s); the packaged bootstraps are not "
              "known to match the functions' declared architectures", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
