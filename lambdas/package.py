#!/usr/bin/env python3
"""Package Lambda bootstraps: check the glibc they need, zip them deterministically, hash them.

    package.py BIN_DIR OUT_DIR MAX_GLIBC NAME...

For each NAME: BIN_DIR/NAME must need no GLIBC symbol version above MAX_GLIBC (provided.al2023
has 2.34); OUT_DIR/NAME/bootstrap.zip holds it as `bootstrap` (mode 755, fixed timestamp, so
the same binary gives the same zip); OUT_DIR/manifest.json lists name, sha256, sizes and the
highest GLIBC version needed. Exits 1 naming the binary when a check fails.
"""
import hashlib
import json
import os
import re
import sys
import zipfile


def glibc_versions(data: bytes) -> list:
    # Version needs are NUL-terminated strings in .dynstr ("GLIBC_2.34").
    found = {m.decode() for m in re.findall(rb"GLIBC_(2\.[0-9]+(?:\.[0-9]+)?)\x00", data)}
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))


def main() -> int:
    bin_dir, out_dir, max_glibc, *names = sys.argv[1:]
    limit = tuple(int(p) for p in max_glibc.split("."))
    manifest = {}
    for name in names:
        path = os.path.join(bin_dir, name)
        with open(path, "rb") as f:
            data = f.read()
        versions = glibc_versions(data)
        highest = versions[-1] if versions else None
        if highest and tuple(int(p) for p in highest.split(".")) > limit:
            print(f"{path} needs GLIBC_{highest}, provided.al2023 has {max_glibc}", file=sys.stderr)
            return 1
        if not data.startswith(b"\x7fELF"):
            print(f"{path} is not an ELF binary", file=sys.stderr)
            return 1
        target = os.path.join(out_dir, name)
        os.makedirs(target, exist_ok=True)
        zip_path = os.path.join(target, "bootstrap.zip")
        info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
        info.create_system = 3  # Unix, so the mode below is honored
        info.external_attr = (0o100755 & 0xFFFF) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(zip_path, "w") as z:
            z.writestr(info, data, compresslevel=9)
        with open(zip_path, "rb") as f:
            zipped = f.read()
        manifest[name] = {
            "zip": os.path.relpath(zip_path, out_dir),
            "sha256": hashlib.sha256(zipped).hexdigest(),
            "zip_bytes": len(zipped),
            "binary_bytes": len(data),
            "max_glibc": highest,
        }
        print(f"{name}: {zip_path} {len(zipped)} bytes (binary {len(data)}), GLIBC <= {highest}, sha256 {manifest[name]['sha256']}")
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
