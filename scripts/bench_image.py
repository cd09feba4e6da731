#!/usr/bin/env python3
"""Build (or reuse) the large multi-layer OCI image layout that scripts/bench-scan.sh scans.

Usage:  bench_image.py build DIR     build DIR (an OCI layout) unless a matching one is cached
        bench_image.py facts DIR     print the cached facts as shell assignments
        bench_image.py layers DIR    print the layer blob paths, bottom first
        bench_image.py count FILE    print len(executables) / links / hidden of an exelock manifest
        bench_image.py from-tar TAR DIR
                                     build DIR (an OCI layout) of one layer, the root filesystem
                                     tar TAR as it is (gzip -6 -n), unless built from that TAR
        bench_image.py packages FILE print the package databases and the packageDigest counts

The image is made of real files from this machine's /usr, so the compression ratio, the
ELF/script/text mix and the executable count are those of a real distro image rather than of
synthetic data:

  layer 0  "base"     shared libraries from /usr/lib/x86_64-linux-gnu
  layer 1  "tools"    /usr/bin, /usr/sbin, /usr/libexec (ELF executables, scripts, symlinks)
  layer 2  "runtime"  Python and Perl libraries, git-core, gcc support files
  layer 3  "docs"     man pages, /usr/share/doc, headers, zoneinfo (many small files)
  layer 4  "patch"    a small top layer: whiteouts (.wh.NAME) of files and a directory from
                      lower layers, an opaque directory (.wh..wh..opq), executables replaced by
                      new content, a few new scripts.

Each root is walked in sorted order and taken until its byte budget is used, so the selection is
deterministic on a given machine. Files larger than MAX_FILE are skipped so that one huge binary
(node, libLLVM) does not dominate a layer.

Every layer is written as a tar stream (PAX format, uid/gid 0, real modes and mtimes, real
hardlinks) piped into `gzip -6 -n`, hashing the uncompressed bytes on the way (diff_id). Layers are
built concurrently, two at a time, so the two gzip processes keep both cores busy. Nothing is
held in memory beyond the file lists.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Bump when the recipe changes: a cached layout with another recipe is rebuilt.
RECIPE = "exelock-bench-v1"

MiB = 1024 * 1024
MAX_FILE = 16 * MiB

# (layer name, [(root, byte budget)]). Budgets count file content bytes (tar overhead comes on
# top). Roots missing on this machine are skipped; the totals are checked after the build.
LAYERS: list[tuple[str, list[tuple[str, int]]]] = [
    ("base", [("/usr/lib/x86_64-linux-gnu", 95 * MiB)]),
    ("tools", [("/usr/bin", 55 * MiB), ("/usr/sbin", 10 * MiB), ("/usr/libexec", 20 * MiB)]),
    (
        "runtime",
        [
            ("/usr/lib/python3.11", 30 * MiB),
            ("/usr/lib/python3", 12 * MiB),
            ("/usr/share/perl", 12 * MiB),
            ("/usr/lib/git-core", 10 * MiB),
            ("/usr/lib/gcc", 15 * MiB),
        ],
    ),
    (
        "docs",
        [
            ("/usr/share/man", 30 * MiB),
            ("/usr/share/doc", 15 * MiB),
            ("/usr/include", 12 * MiB),
            ("/usr/share/zoneinfo", 4 * MiB),
        ],
    ),
]

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"


def qualifies(mode: int, head: bytes) -> bool:
    """exelock's rule for an executable regular file (src/catalog/detect.rs `qualifies`)."""
    return bool(mode & 0o111) or head.startswith(b"\x7fELF") or head.startswith(b"#!")


def select(roots: list[tuple[str, int]]) -> list[str]:
    """Absolute paths (dirs, files, symlinks) to put in a layer, in sorted walk order."""
    chosen: list[str] = []
    for root, budget in roots:
        if not os.path.isdir(root):
            continue
        used = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if used >= budget:
                dirnames.clear()
                continue
            chosen.append(dirpath)
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISLNK(st.st_mode):
                    chosen.append(path)
                elif stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE and os.access(path, os.R_OK):
                    if used + st.st_size > budget:
                        continue
                    used += st.st_size
                    chosen.append(path)
    return chosen


class HashingPipe:
    """File-like sink: hashes and counts what tarfile writes, then forwards it to gzip's stdin."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.sink.write(data)
        return len(data)


def sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def add_parents(tar: tarfile.TarFile, arcname: str, seen: set[str]) -> None:
    """Emit directory entries for the parents of arcname, as image builders do."""
    parts = arcname.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        parent = "/".join(parts[:i])
        if parent not in seen:
            seen.add(parent)
            info = tarfile.TarInfo(parent)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.uname = info.gname = "root"
            info.mtime = 1_700_000_000
            tar.addfile(info)


def write_layer(blobs: Path, index: int, members, stats: dict) -> dict:
    """Stream one layer: tar → (sha256 of tar) → gzip -6 -n → temp blob; returns its descriptor.

    members yields (arcname, kind, source) with kind in file/dir/symlink (source = a real path)
    or whiteout/script (source = bytes content or None).
    """
    tmp = blobs / f".layer{index}.tmp"
    with open(tmp, "wb") as out:
        gz = subprocess.Popen(["gzip", "-6", "-n", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert gz.stdin is not None
        pipe = HashingPipe(gz.stdin)
        seen: set[str] = set()
        with tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tar:
            for arcname, kind, source in members:
                add_parents(tar, arcname, seen)
                if kind in ("file", "dir", "symlink"):
                    info = tar.gettarinfo(source, arcname)
                    info.uid = info.gid = 0
                    info.uname = info.gname = "root"
                    if info.isdir():
                        if arcname in seen:
                            continue
                        seen.add(arcname)
                    if info.isreg():
                        with open(source, "rb") as handle:
                            head = handle.read(4)
                            handle.seek(0)
                            tar.addfile(info, handle)
                        stats["files"] += 1
                        stats["content_bytes"] += info.size
                        stats["puts"].append((arcname, qualifies(info.mode, head)))
                    elif info.islnk():
                        # A real hardlink: tarfile links it to the member already written.
                        tar.addfile(info)
                        stats["hardlinks"] += 1
                        stats["puts"].append((arcname, ("hardlink", info.linkname)))
                    else:
                        tar.addfile(info)
                        if info.issym():
                            stats["symlinks"] += 1
                            stats["puts"].append((arcname, None))
                elif kind == "whiteout":
                    info = tarfile.TarInfo(arcname)
                    info.mtime = 1_700_000_000
                    info.uname = info.gname = "root"
                    tar.addfile(info)
                    stats["whiteouts"] += 1
                    stats["whiteout_entries"].append(arcname)
                elif kind == "script":
                    info = tarfile.TarInfo(arcname)
                    info.mode = 0o755
                    info.mtime = 1_700_000_000
                    info.uname = info.gname = "root"
                    info.size = len(source)
                    tar.addfile(info, io.BytesIO(source))
                    stats["files"] += 1
                    stats["content_bytes"] += info.size
                    stats["puts"].append((arcname, qualifies(0o755, source[:4])))
        gz.stdin.close()
        if gz.wait() != 0:
            raise SystemExit(f"gzip failed for layer {index}")
    digest = sha256_file(tmp)
    size = tmp.stat().st_size
    tmp.rename(blobs / digest)
    return {
        "digest": "sha256:" + digest,
        "size": size,
        "diff_id": "sha256:" + pipe.sha.hexdigest(),
        "tar_size": pipe.size,
    }


def real_members(paths: list[str]):
    for path in paths:
        arcname = path.lstrip("/")
        if os.path.islink(path):
            yield arcname, "symlink", path
        elif os.path.isdir(path):
            yield arcname, "dir", path
        else:
            yield arcname, "file", path


def patch_members(lower: list[list[str]]):
    """The top layer: whiteouts, an opaque dir, replaced executables, new scripts.

    Targets are picked from what the lower layers actually hold, so they always exist.
    """
    tools = [p for p in lower[1] if p.startswith("/usr/bin/") and os.path.isfile(p) and not os.path.islink(p)]
    docs_dirs = sorted({os.path.dirname(p) for p in lower[3] if p.startswith("/usr/share/doc/")} - {"/usr/share/doc"})
    py_dirs = sorted(
        {os.path.dirname(p) for p in lower[2] if p.startswith("/usr/lib/python3.11/") and p.endswith(".py")}
        - {"/usr/lib/python3.11"}
    )
    members = []
    # 1. Delete three executables of the tools layer (they become `hidden` entries).
    for path in tools[:3]:
        d, name = os.path.split(path.lstrip("/"))
        members.append((f"{d}/.wh.{name}", "whiteout", None))
    # 2. Delete a whole documentation directory.
    if docs_dirs:
        d, name = os.path.split(docs_dirs[0].lstrip("/"))
        members.append((f"{d}/.wh.{name}", "whiteout", None))
    # 3. Make a Python package directory opaque and put one new file in it.
    if py_dirs:
        d = py_dirs[len(py_dirs) // 2].lstrip("/")
        members.append((f"{d}/.wh..wh..opq", "whiteout", None))
        members.append((f"{d}/__init__.py", "script", b"# replaced by the patch layer\n"))
    # 4. Replace two executables of the tools layer with wrapper scripts.
    for path in tools[3:5]:
        body = f"#!/bin/sh\n# patched wrapper\nexec /usr/local/bin/real-{os.path.basename(path)} \"$@\"\n"
        members.append((path.lstrip("/"), "script", body.encode()))
    # 5. Add new files: a copied ELF binary and a few scripts under /usr/local/bin.
    for path in tools[5:6]:
        members.append((f"usr/local/bin/real-{os.path.basename(path)}", "file", path))
    for i in range(5):
        members.append((f"usr/local/bin/entry-{i}.sh", "script", f"#!/bin/bash\necho entry {i}\n".encode()))
    return members


def expected_executables(layer_stats: list[dict]) -> tuple[int, int]:
    """Replays the layers (OCI whiteout semantics) to count final executables and hidden ones."""
    fs: dict[str, bool] = {}  # path -> qualifies (False for non-executables/symlinks)
    hidden = 0
    for stats in layer_stats:
        for entry in stats["whiteout_entries"]:
            d, name = entry.rsplit("/", 1)
            if name == ".wh..wh..opq":
                prefix = d + "/"
                victims = [p for p in fs if p.startswith(prefix)]
            else:
                target = f"{d}/{name[len('.wh.'):]}"
                victims = [p for p in fs if p == target or p.startswith(target + "/")]
            for p in victims:
                hidden += fs.pop(p)
        for path, q in stats["puts"]:
            if isinstance(q, tuple):  # hardlink: content of its target
                q = fs.get(q[1], False)
            if fs.get(path):
                hidden += 1  # replaced executable
            fs[path] = bool(q)
    return sum(fs.values()), hidden


def build(layout: Path) -> None:
    stamp = layout / "bench-recipe"
    if stamp.is_file() and stamp.read_text().strip() == RECIPE and (layout / "bench-facts.json").is_file():
        print(f"reusing cached image at {layout}", file=sys.stderr)
        return
    started = time.monotonic()
    if layout.exists():
        shutil.rmtree(layout)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    selections = [select(roots) for _, roots in LAYERS]
    jobs = [list(real_members(paths)) for paths in selections]
    jobs.append(patch_members(selections))
    names = [name for name, _ in LAYERS] + ["patch"]

    def fresh() -> dict:
        return {"files": 0, "content_bytes": 0, "symlinks": 0, "hardlinks": 0, "whiteouts": 0,
                "whiteout_entries": [], "puts": []}

    layer_stats = [fresh() for _ in jobs]
    # Two layers at a time: each has a Python tar writer and a gzip process.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(write_layer, blobs, i, jobs[i], layer_stats[i]) for i in range(len(jobs))]
        layers = [f.result() for f in futures]

    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in layers]},
        "history": [{"created_by": f"exelock bench layer {name}"} for name in names],
    }
    config_bytes = json.dumps(config, indent=2).encode()
    config_digest = hashlib.sha256(config_bytes).hexdigest()
    (blobs / config_digest).write_bytes(config_bytes)

    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": "sha256:" + config_digest, "size": len(config_bytes)},
        "layers": [
            {"mediaType": LAYER_MEDIA_TYPE, "digest": layer["digest"], "size": layer["size"]} for layer in layers
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
    (blobs / manifest_digest).write_bytes(manifest_bytes)

    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": "sha256:" + manifest_digest,
                "size": len(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}) + "\n")

    executables, hidden = expected_executables(layer_stats)
    facts = {
        "layers": len(layers),
        "files": sum(s["files"] for s in layer_stats),
        "symlinks": sum(s["symlinks"] for s in layer_stats),
        "hardlinks": sum(s["hardlinks"] for s in layer_stats),
        "whiteouts": sum(s["whiteouts"] for s in layer_stats),
        "uncompressed_bytes": sum(layer["tar_size"] for layer in layers),
        "compressed_bytes": sum(layer["size"] for layer in layers),
        "expected_executables": executables,
        "expected_hidden": hidden,
        "build_seconds": round(time.monotonic() - started, 1),
        "per_layer": [
            {"name": names[i], "files": layer_stats[i]["files"], "tar_bytes": layers[i]["tar_size"],
             "gz_bytes": layers[i]["size"], "digest": layers[i]["digest"]}
            for i in range(len(layers))
        ],
    }
    (layout / "bench-facts.json").write_text(json.dumps(facts, indent=2) + "\n")
    stamp.write_text(RECIPE + "\n")
    print(f"built image at {layout} in {facts['build_seconds']} s", file=sys.stderr)


def facts(layout: Path) -> None:
    data = json.loads((layout / "bench-facts.json").read_text())
    for key in ("layers", "files", "symlinks", "hardlinks", "whiteouts", "uncompressed_bytes",
                "compressed_bytes", "expected_executables", "expected_hidden", "build_seconds"):
        print(f"IMG_{key.upper()}={data[key]}")
    for layer in data["per_layer"]:
        print(
            f"# layer {layer['name']:8} files={layer['files']:6} tar={layer['tar_bytes'] / 1e6:7.1f} MB "
            f"gz={layer['gz_bytes'] / 1e6:6.1f} MB {layer['digest'][:19]}"
        )


def layers(layout: Path) -> None:
    """Print the layer blob paths of the layout's (single) image, bottom layer first."""
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":", 1)[1]
    manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    for layer in manifest["layers"]:
        print(layout / "blobs" / "sha256" / layer["digest"].split(":", 1)[1])


def count(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    print(len(data["executables"]), len(data["links"]), len(data["hidden"]))


def from_tar(tar: Path, layout: Path) -> None:
    """One gzip layer that is TAR as it is (a root with its package database), PATH set."""
    recipe = f"from-tar {tar.resolve()} {tar.stat().st_size} {tar.stat().st_mtime_ns}"
    stamp = layout / "bench-recipe"
    if stamp.is_file() and stamp.read_text().strip() == recipe:
        print(f"reusing cached image at {layout}", file=sys.stderr)
        return
    if layout.exists():
        shutil.rmtree(layout)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    partial = layout / "layer.partial"
    diff_id = hashlib.sha256()
    with partial.open("wb") as out, tar.open("rb") as source:
        gzip = subprocess.Popen(["gzip", "-6", "-n"], stdin=subprocess.PIPE, stdout=out)
        assert gzip.stdin is not None
        while chunk := source.read(1 << 20):
            diff_id.update(chunk)
            gzip.stdin.write(chunk)
        gzip.stdin.close()
        if gzip.wait() != 0:
            raise SystemExit("gzip failed")
    layer_digest = sha256_file(partial)
    layer_size = partial.stat().st_size
    partial.rename(blobs / layer_digest)

    def blob(data: dict) -> tuple[str, int]:
        raw = json.dumps(data, sort_keys=True).encode()
        digest = hashlib.sha256(raw).hexdigest()
        (blobs / digest).write_bytes(raw)
        return f"sha256:{digest}", len(raw)

    config_digest, config_size = blob({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id.hexdigest()}"]},
    })
    manifest_digest, manifest_size = blob({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{layer_digest}", "size": layer_size}],
    })
    (layout / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": manifest_size,
                       "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    }))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    stamp.write_text(recipe + "\n")
    print(f"built image at {layout}: {tar.stat().st_size / 1e6:.1f} MB tar, "
          f"{layer_size / 1e6:.1f} MB gzip", file=sys.stderr)


def packages(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    databases = ", ".join(f"{db['path']} ({db['db']}, {db['packages']} packages)"
                          for db in data.get("packageDatabases", [])) or "none"
    digests: dict[str, int] = {}
    for exe in data["executables"]:
        key = exe.get("packageDigest", "-")
        digests[key] = digests.get(key, 0) + 1
    print(f"package databases: {databases}; packageDigest: "
          + (", ".join(f"{key} {n}" for key, n in sorted(digests.items())) or "none"))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "from-tar":
        from_tar(Path(sys.argv[2]), Path(sys.argv[3]))
        raise SystemExit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "packages":
        packages(Path(sys.argv[2]))
        raise SystemExit(0)
    if len(sys.argv) != 3 or sys.argv[1] not in ("build", "facts", "layers", "count"):
        raise SystemExit(__doc__)
    {"build": build, "facts": facts, "layers": layers, "count": count}[sys.argv[1]](Path(sys.argv[2]))
