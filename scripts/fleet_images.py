#!/usr/bin/env python3
"""Builds (or reuses) a fleet of OCI image layouts that share one base layer, as the images of a
registry share their Debian base: scripts/bench-cache.sh scans them.

Usage: fleet_images.py BASE_ROOT_TAR OUT_DIR [IMAGES]

  OUT_DIR/base/      one layer: the root filesystem tar BASE_ROOT_TAR (the Debian bookworm
                     root scripts/test.sh builds with debootstrap), gzip -6 -n
  OUT_DIR/app-NN/    the base layer and an application layer of its own (IMAGES of them,
                     default 20): a few MB of executables (copies of this machine's ELF binaries
                     with bytes of their own appended, so every image's executables differ),
                     scripts and data files under /opt/app-NN

Each layout is a directory of its own (oci:OUT_DIR/app-01), its blobs hard links into
OUT_DIR/pool, so the base layer is stored once. Everything is deterministic for a given base tar
and machine; a layout built from the same recipe and base tar is reused.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

from many_files_image import adder

RECIPE = "exelock-fleet-v1"
# ELF binaries present on every Debian machine, copied into the application layers.
ELF_SOURCES = ["/usr/bin/python3", "/usr/bin/gzip", "/usr/bin/tar", "/usr/bin/find", "/usr/bin/sort"]


def store(pool, data=None, path=None):
    """Stores a blob in the pool; returns (digest hex, size)."""
    if path is not None:
        digest, size = hashlib.sha256(), 0
        with open(path, "rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        digest = digest.hexdigest()
        os.replace(path, os.path.join(pool, digest))
        return digest, size
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(pool, digest), "wb") as out:
        out.write(data)
    return digest, len(data)


def layout(out, name, pool, layers, diff_ids):
    """Writes OUT/NAME as an OCI layout of these (digest, size) gzip layers."""
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, sort_keys=True).encode()
    config_digest, config_size = store(pool, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": f"sha256:{config_digest}", "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{digest}", "size": size} for digest, size in layers],
    }, sort_keys=True).encode()
    manifest_digest, manifest_size = store(pool, manifest)
    target = os.path.join(out, name)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(os.path.join(target, "blobs", "sha256"))
    for digest in [config_digest, manifest_digest] + [digest for digest, _ in layers]:
        os.link(os.path.join(pool, digest), os.path.join(target, "blobs", "sha256", digest))
    with open(os.path.join(target, "oci-layout"), "w") as handle:
        json.dump({"imageLayoutVersion": "1.0.0"}, handle)
    with open(os.path.join(target, "index.json"), "w") as handle:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{manifest_digest}", "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, handle)


def app_layer(number):
    """The application layer of image NUMBER: (tar bytes, gzip bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add = adder(tar)
        root = f"opt/app-{number:02d}"
        for directory in ["opt", root, f"{root}/bin", f"{root}/share"]:
            add(directory, directory=True)
        for source in ELF_SOURCES:
            if os.path.exists(source):
                with open(source, "rb") as handle:
                    elf = handle.read()
                add(f"{root}/bin/{os.path.basename(source)}", elf + f"app {number}".encode(), 0o755)
        for script in range(20):
            add(f"{root}/bin/task-{script:02d}.sh", f"#!/bin/sh\necho app {number} task {script}\n".encode(), 0o755)
        for data in range(200):
            add(f"{root}/share/data-{data:03d}.json", json.dumps({"app": number, "item": data}).encode())
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, compresslevel=6, mtime=0)


def main():
    base_tar, out = sys.argv[1], sys.argv[2]
    images = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    stamp = os.path.join(out, "recipe")
    recipe = f"{RECIPE} {images} {os.path.getsize(base_tar)} {os.path.getmtime(base_tar)}"
    if os.path.exists(stamp) and open(stamp).read() == recipe:
        return
    shutil.rmtree(out, ignore_errors=True)
    pool = os.path.join(out, "pool")
    os.makedirs(pool)
    diff_id = hashlib.sha256()
    with open(base_tar, "rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            diff_id.update(chunk)
    compressed = os.path.join(out, "base.tar.gz")
    with open(base_tar, "rb") as source, open(compressed, "wb") as sink:
        subprocess.run(["gzip", "-6", "-n", "-c"], stdin=source, stdout=sink, check=True)
    base = store(pool, path=compressed)
    base_diff_id = f"sha256:{diff_id.hexdigest()}"
    layout(out, "base", pool, [base], [base_diff_id])
    for number in range(1, images + 1):
        tar_bytes, gz = app_layer(number)
        app = store(pool, gz)
        layout(out, f"app-{number:02d}", pool, [base, app],
               [base_diff_id, f"sha256:{hashlib.sha256(tar_bytes).hexdigest()}"])
    with open(stamp, "w") as handle:
        handle.write(recipe)


if __name__ == "__main__":
    main()
