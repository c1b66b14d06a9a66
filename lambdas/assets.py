#!/usr/bin/env python3
"""The Lambda code assets synth declares: what lambdas/build.sh must build, for which architecture.

    assets.py OUT_DIR ENV...     (ENV: dev, staging, prod or all) prints one tab-separated line per distinct
                                 (architecture, rust_target, function, zip), sorted

Reads the `assets` array of OUT_DIR/<env>/manifest.json, whose entries are
    {"function": "alert_ingest", "architecture": "arm64",
     "rust_target": "aarch64-unknown-linux-gnu",
     "zip": "target/lambda/arm64/alert_ingest/bootstrap.zip", "s3_key": "lambdas/..."}
and exits 1 with a message when a manifest is missing, an entry lacks a field (a manifest
written before synth declared architectures), or an architecture / Rust target pair is not one
Lambda runs. Nothing here defaults to x86_64: an asset without an architecture is an error.
Also imported by check-package.py and package.py (ARCHITECTURES, ELF machine helpers).
"""
import json
import os
import sys

ENVIRONMENTS = ("dev", "staging", "prod")

# Lambda `Architectures` value -> (Rust target, ELF e_machine, readable name).
ARCHITECTURES = {
    "arm64": ("aarch64-unknown-linux-gnu", 0xB7, "AArch64"),
    "x86_64": ("x86_64-unknown-linux-gnu", 0x3E, "x86-64"),
}
FIELDS = ("function", "architecture", "rust_target", "zip", "s3_key")


class AssetError(Exception):
    pass


def elf_machine(header: bytes, what: str) -> int:
    """e_machine of a 64-bit ELF header (first 20 bytes at least)."""
    if len(header) < 20 or not header.startswith(b"\x7fELF"):
        raise AssetError(f"{what} is not an ELF binary")
    if header[4] != 2:
        raise AssetError(f"{what} is not a 64-bit ELF binary (EI_CLASS {header[4]})")
    order = {1: "little", 2: "big"}.get(header[5])
    if order is None:
        raise AssetError(f"{what} has an unknown ELF byte order (EI_DATA {header[5]})")
    return int.from_bytes(header[18:20], order)


def machine_name(machine: int) -> str:
    for _, (_, m, name) in ARCHITECTURES.items():
        if m == machine:
            return f"{name} (e_machine 0x{machine:02X})"
    return f"e_machine 0x{machine:02X}"


def architecture_of_machine(machine: int):
    for arch, (_, m, _) in ARCHITECTURES.items():
        if m == machine:
            return arch
    return None


def environments(selection: str) -> list:
    if selection == "all":
        return list(ENVIRONMENTS)
    if selection not in ENVIRONMENTS:
        raise AssetError(f"unknown environment {selection!r}: one of {', '.join(ENVIRONMENTS)} or all")
    return [selection]


def load(out_dir: str, env: str) -> list:
    """The validated `assets` of OUT_DIR/ENV/manifest.json."""
    path = os.path.join(out_dir, env, "manifest.json")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise AssetError(f"{path} is missing: run `cargo run -p synth` first")
    except json.JSONDecodeError as e:
        raise AssetError(f"{path} is not JSON: {e}")
    assets = manifest.get("assets")
    if not isinstance(assets, list) or not assets:
        raise AssetError(f"{path} has no `assets` array: nothing to build")
    for i, asset in enumerate(assets):
        missing = [k for k in FIELDS if not isinstance(asset.get(k), str) or not asset.get(k)]
        if missing:
            raise AssetError(
                f"{path}: assets[{i}] ({asset.get('function', '?')}) lacks {', '.join(missing)}; "
                "this manifest predates per-architecture assets: regenerate out/ with synth "
                "(no architecture is assumed)"
            )
        arch, target = asset["architecture"], asset["rust_target"]
        if arch not in ARCHITECTURES:
            raise AssetError(
                f"{path}: {asset['function']} has architecture {arch!r}; Lambda runs "
                f"{' or '.join(ARCHITECTURES)}"
            )
        if ARCHITECTURES[arch][0] != target:
            raise AssetError(
                f"{path}: {asset['function']} is {arch} but its rust_target is {target!r} "
                f"(expected {ARCHITECTURES[arch][0]})"
            )
    return assets


def plan(out_dir: str, envs: list) -> list:
    """Distinct (architecture, rust_target, function, zip), sorted."""
    rows = set()
    for env in envs:
        for a in load(out_dir, env):
            rows.add((a["architecture"], a["rust_target"], a["function"], a["zip"]))
    return sorted(rows)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    try:
        envs = [e for selection in sys.argv[2:] for e in environments(selection)]
        for row in plan(out_dir, envs):
            print("\t".join(row))
    except AssetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
