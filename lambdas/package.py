#!/usr/bin/env python3
"""Package Lambda bootstraps: check their architecture and the glibc they need, zip them
deterministically, hash them.

    package.py --max-glibc 2.34 --manifest target/lambda/manifest.json \\
        --asset NAME ARCH BINARY ZIP [--asset ...]

For each asset: BINARY must be a 64-bit ELF whose e_machine is ARCH's (arm64 = AArch64 0xB7,
x86_64 = x86-64 0x3E) and must need no GLIBC symbol version above MAX_GLIBC (provided.al2023
has 2.34); ZIP then holds it as `bootstrap` (mode 755, fixed timestamp, so the same binary gives
the same zip). The manifest (written fresh) lists name, architecture, ELF machine, zip, sha256,
sizes and the highest GLIBC version needed. Exits 1 naming the binary when a check fails;
nothing is written for a build where any check failed.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import zipfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from assets import ARCHITECTURES, AssetError, elf_machine, machine_name  # noqa: E402


def glibc_versions(data: bytes) -> list:
    # Version needs are NUL-terminated strings in .dynstr ("GLIBC_2.34").
    found = {m.decode() for m in re.findall(rb"GLIBC_(2\.[0-9]+(?:\.[0-9]+)?)\x00", data)}
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))


def check(name: str, arch: str, path: str, data: bytes, max_glibc: str):
    """Raises AssetError naming the binary; returns (machine, highest glibc)."""
    if arch not in ARCHITECTURES:
        raise AssetError(f"{name}: unknown architecture {arch!r} (one of {', '.join(ARCHITECTURES)})")
    machine = elf_machine(data[:20], f"{path} ({name})")
    expected = ARCHITECTURES[arch][1]
    if machine != expected:
        raise AssetError(
            f"{path} ({name}) is {machine_name(machine)} but {name} is declared {arch}, "
            f"which needs {machine_name(expected)}"
        )
    versions = glibc_versions(data)
    highest = versions[-1] if versions else None
    limit = tuple(int(p) for p in max_glibc.split("."))
    if highest and tuple(int(p) for p in highest.split(".")) > limit:
        raise AssetError(f"{path} ({name}) needs GLIBC_{highest}, provided.al2023 has {max_glibc}")
    return machine, highest


def write_zip(zip_path: str, data: bytes):
    os.makedirs(os.path.dirname(zip_path) or ".", exist_ok=True)
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix, so the mode below is honored
    info.external_attr = (0o100755 & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    tmp = zip_path + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr(info, data, compresslevel=9)
    os.replace(tmp, zip_path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-glibc", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--asset", nargs=4, action="append", required=True,
                        metavar=("NAME", "ARCH", "BINARY", "ZIP"))
    args = parser.parse_args()

    # Check everything first: a failing build leaves no new zip behind.
    checked = []
    try:
        for name, arch, binary, zip_path in args.asset:
            with open(binary, "rb") as f:
                data = f.read()
            machine, highest = check(name, arch, binary, data, args.max_glibc)
            checked.append((name, arch, zip_path, data, machine, highest))
    except (AssetError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    entries = []
    for name, arch, zip_path, data, machine, highest in checked:
        write_zip(zip_path, data)
        with open(zip_path, "rb") as f:
            zipped = f.read()
        entry = {
            "name": name,
            "architecture": arch,
            "elf_machine": machine_name(machine),
            "zip": os.path.relpath(zip_path),
            "sha256": hashlib.sha256(zipped).hexdigest(),
            "zip_bytes": len(zipped),
            "binary_bytes": len(data),
            "max_glibc": highest,
        }
        entries.append(entry)
        print(f"{name} [{arch}, {entry['elf_machine']}]: {entry['zip']} {len(zipped)} bytes "
              f"(binary {len(data)}), GLIBC <= {highest}, sha256 {entry['sha256']}")
    entries.sort(key=lambda e: (e["zip"], e["name"]))
    os.makedirs(os.path.dirname(args.manifest) or ".", exist_ok=True)
    with open(args.manifest, "w") as f:
        json.dump({"assets": entries}, f, indent=2, sort_keys=True)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
