#!/usr/bin/env python3
"""Writes an OCI image layout whose one layer holds FILES small files (default 1,000,000):
directories of 1,000 files each, every 1,000th file an executable shell script, the rest
four-byte data files. It measures what a scan keeps per file: its memory grows with the number
of entries, not with their size.

Usage: scripts/many_files_image.py OUT_DIR [FILES]
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def adder(tar):
    """A function that adds a directory or a file of DATA to TAR, owned by root, fixed mtime."""
    def add(name, data=None, mode=0o644, directory=False):
        info = tarfile.TarInfo(name)
        info.mtime = 1700000000
        if directory:
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        else:
            info.mode, info.size = mode, len(data)
            tar.addfile(info, io.BytesIO(data))
    return add


def blob(layout, data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as out:
        out.write(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def main():
    layout = sys.argv[1]
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        add = adder(tar)
        add("usr", directory=True)
        add("usr/share", directory=True)
        add("usr/share/many", directory=True)
        for index in range(files):
            directory = f"usr/share/many/d{index // 1000:04d}"
            if index % 1000 == 0:
                add(directory, directory=True)
            if index % 1000 == 999:
                add(f"{directory}/tool-{index:07d}", f"#!/bin/sh\necho {index}\n".encode(), 0o755)
            else:
                add(f"{directory}/data-{index:07d}.txt", b"data")
    tar_bytes = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    layer = blob(layout, gzip.compress(tar_bytes, compresslevel=1, mtime=0),
                 "application/vnd.oci.image.layer.v1.tar+gzip")
    config = blob(layout, json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = blob(layout, json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": [layer],
    }).encode(), "application/vnd.oci.image.manifest.v1+json")
    manifest["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(layout, "index.json"), "w") as out:
        json.dump({"schemaVersion": 2, "manifests": [manifest]}, out)
    with open(os.path.join(layout, "oci-layout"), "w") as out:
        json.dump({"imageLayoutVersion": "1.0.0"}, out)


if __name__ == "__main__":
    main()
