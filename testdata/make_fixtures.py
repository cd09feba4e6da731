#!/usr/bin/env python3
"""Generate exelock's test fixtures: small OCI images that carry the traps real images have.

Run from anywhere with Python 3.11+ (stdlib only; the `zstd` CLI must be on PATH):

    python3 testdata/make_fixtures.py

The script deletes and recreates `testdata/images`, `testdata/expected` and `testdata/bad`.
Its output is deterministic (fixed mtimes, empty owner names, gzip mtime 0, sorted JSON keys,
one seeded RNG used in a fixed order, `zstd -19 -T1`), so running it twice gives byte-identical
files; the outputs are committed.

The expected scan results in `expected/*.json` are DECLARED BY HAND below, per fixture (which
paths the final filesystem shows, from which layer, of which kind, which symlinks resolve to an
executable, which executables are hidden and by which layer). Only sha256/size/buildId are
looked up from the content bytes this script wrote; nothing here simulates whiteouts.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import struct
import subprocess
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "images")
EXPECTED = os.path.join(HERE, "expected")
BAD = os.path.join(HERE, "bad")

MTIME = 1700000000  # every tar entry in every layer and archive
RNG = random.Random(42)  # the only source of "randomness"; consumed in a fixed order

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_INTOTO = "application/vnd.in-toto+json"
REF_NAME = "org.opencontainers.image.ref.name"

ELF_EXEC = "elf-executable"
ELF_SO = "elf-shared-object"
ELF_OTHER = "elf-other"
SCRIPT = "script"
OTHER = "other"


# --------------------------------------------------------------------------------------------
# small helpers


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj) -> bytes:
    """The bytes of every JSON blob (config, manifest, index)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def pretty_json(obj) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def raw(path: str) -> bytes:
    """Raw bytes of a path; non-UTF-8 bytes are written as surrogate escapes in this script."""
    return path.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------------
# file contents: synthetic ELF files and scripts. Every content is unique (its label is in it).

CONTENT: dict[str, bytes] = {}
BUILD_IDS: dict[str, str] = {}

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3
PT_LOAD, PT_INTERP, PT_NOTE = 1, 3, 4
INTERP = b"/lib64/ld-linux-x86-64.so.2\0"


def elf64(key: str, etype: int, *, interp: bool, build_id: bool, machine: int = 0x3E,
          random_bytes: int = 0) -> bytes:
    """A tiny but structurally valid ELF64 little-endian file, registered under `key`."""
    label = b"exelock-fixture:" + key.encode() + b"\0"
    if etype == ET_REL:
        # Relocatable objects have no program headers.
        header = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), etype,
                             machine, 1, 0, 0, 0, 0, 64, 0, 0, 64, 0, 0)
        data = header + label + bytes(RNG.randbytes(random_bytes))
        CONTENT[key] = data
        return data
    phnum = 1 + int(interp) + int(build_id)  # PT_LOAD + optional PT_INTERP + optional PT_NOTE
    off = 64 + 56 * phnum
    body = b""
    interp_off = off
    if interp:
        body += INTERP
    pad = (-(off + len(body))) % 4
    body += bytes(pad)
    note_off = off + len(body)
    desc = b""
    if build_id:
        desc = hashlib.sha1(b"build-id:" + key.encode()).digest()  # 20 bytes
        body += struct.pack("<III", 4, len(desc), 3) + b"GNU\0" + desc
        BUILD_IDS[key] = desc.hex()
    body += label
    body += bytes(RNG.randbytes(random_bytes))
    total = off + len(body)
    base = 0x400000 if etype == ET_EXEC else 0
    phdrs = b""
    if interp:
        phdrs += struct.pack("<IIQQQQQQ", PT_INTERP, 4, interp_off, base + interp_off,
                             base + interp_off, len(INTERP), len(INTERP), 1)
    phdrs += struct.pack("<IIQQQQQQ", PT_LOAD, 5, 0, base, base, total, total, 0x1000)
    if build_id:
        n = 16 + len(desc)
        phdrs += struct.pack("<IIQQQQQQ", PT_NOTE, 4, note_off, base + note_off,
                             base + note_off, n, n, 4)
    entry = base + total - len(label) if etype == ET_EXEC or interp else 0
    header = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), etype,
                         machine, 1, entry, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    data = header + phdrs + body
    assert len(data) == total
    CONTENT[key] = data
    return data


def elf32_be_exec(key: str) -> bytes:
    """ELF32 big-endian ET_EXEC (MIPS), one PT_LOAD, no build id."""
    label = b"exelock-fixture:" + key.encode() + b"\0"
    total = 52 + 32 + len(label)
    header = struct.pack(">16sHHIIIIIHHHHHH", b"\x7fELF\x01\x02\x01" + bytes(9), ET_EXEC, 8,
                         1, 0x400000 + 84, 52, 0, 0, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack(">IIIIIIII", PT_LOAD, 0, 0x400000, 0x400000, total, total, 5, 0x1000)
    data = header + phdr + label
    assert len(data) == total
    CONTENT[key] = data
    return data


def text(key: str, data: str | bytes) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    CONTENT[key] = data
    return data


# --------------------------------------------------------------------------------------------
# layer tars


class E:
    """One tar entry of a layer. `name` is written into the tar exactly as given."""

    def __init__(self, kind: str, name: str, data: bytes = b"", mode: int = 0o755,
                 uid: int = 0, gid: int = 0, link: str = ""):
        self.kind, self.name, self.data = kind, name, data
        self.mode, self.uid, self.gid, self.link = mode, uid, gid, link


def F(name, data, mode=0o755, uid=0, gid=0):
    return E("file", name, data, mode, uid, gid)


def D(name, mode=0o755):
    return E("dir", name, mode=mode)


def S(name, target):
    return E("symlink", name, mode=0o777, link=target)


def H(name, target, mode=0o644):
    # The header mode of a hardlink is deliberately NOT the target's mode: a hardlink takes the
    # content, mode, uid and gid of its target.
    return E("hardlink", name, mode=mode, link=target)


def WH(name):
    return E("file", name, b"", 0o644)


def normalize(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def make_tar(entries: list[E], fmt: int, *, auto_dirs: bool = True,
             pax_global: dict | None = None) -> bytes:
    """Builds a layer tar. With `auto_dirs`, missing parent directory entries are emitted first
    (real layers carry them)."""
    buf = io.BytesIO()
    if pax_global:
        # tarfile only writes a global header in PAX format; write it by hand so a USTAR
        # layer can start with one too (as `git archive` output does).
        buf.write(tarfile.TarInfo.create_pax_global_header(pax_global))
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as tf:
        seen_dirs: set[str] = set()
        for e in entries:
            norm = normalize(e.name)
            if auto_dirs:
                parts = norm.split("/")
                for i in range(1, len(parts)):
                    parent = "/".join(parts[:i])
                    if parent not in seen_dirs:
                        seen_dirs.add(parent)
                        add_entry(tf, D(parent + "/"))
            if e.kind == "dir":
                seen_dirs.add(norm)
            add_entry(tf, e)
    return buf.getvalue()


def add_entry(tf: tarfile.TarFile, e: E) -> None:
    ti = tarfile.TarInfo(e.name)
    ti.name = e.name  # set directly: keeps "./", "//" and a leading "/" as written
    ti.mtime = MTIME
    ti.mode = e.mode
    ti.uid, ti.gid = e.uid, e.gid
    ti.uname = ti.gname = ""
    if e.kind == "file":
        ti.type = tarfile.REGTYPE
        ti.size = len(e.data)
        tf.addfile(ti, io.BytesIO(e.data))
    elif e.kind == "dir":
        ti.type = tarfile.DIRTYPE
        tf.addfile(ti)
    elif e.kind == "symlink":
        ti.type = tarfile.SYMTYPE
        ti.linkname = e.link
        tf.addfile(ti)
    elif e.kind == "hardlink":
        ti.type = tarfile.LNKTYPE
        ti.linkname = e.link
        tf.addfile(ti)
    else:
        raise ValueError(e.kind)


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="", compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def gzip_two_members(data: bytes) -> bytes:
    """Two concatenated gzip members (a decoder that stops after the first loses entries)."""
    half = len(data) // 2
    return gzip_bytes(data[:half]) + gzip_bytes(data[half:])


def zstd_bytes(data: bytes) -> bytes:
    out = subprocess.run(["zstd", "-q", "-19", "-T1", "--no-check", "-c", "-"], input=data,
                         stdout=subprocess.PIPE, check=True).stdout
    # Round-trip check.
    back = subprocess.run(["zstd", "-q", "-d", "-c", "-"], input=out, stdout=subprocess.PIPE,
                          check=True).stdout
    assert back == data
    return out


class Layer:
    def __init__(self, tar: bytes, compression: str):
        self.tar = tar
        self.compression = compression
        if compression == "gzip":
            self.blob, self.media_type = gzip_bytes(tar), MT_GZIP
        elif compression == "gzip2":
            self.blob, self.media_type = gzip_two_members(tar), MT_GZIP
            assert gzip.decompress(self.blob) == tar
        elif compression == "zstd":
            self.blob, self.media_type = zstd_bytes(tar), MT_ZSTD
        elif compression == "none":
            self.blob, self.media_type = tar, MT_TAR
        else:
            raise ValueError(compression)
        self.diff_id = "sha256:" + sha256_hex(tar)
        self.digest = "sha256:" + sha256_hex(self.blob)

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.blob)}


# --------------------------------------------------------------------------------------------
# images and their on-disk forms


class Image:
    def __init__(self, name: str, layers: list[Layer], arch: str = "amd64", os_: str = "linux",
                 variant: str | None = None):
        self.name, self.layers = name, layers
        self.arch, self.os, self.variant = arch, os_, variant
        config = {
            "architecture": arch,
            "os": os_,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [l.diff_id for l in layers]},
        }
        if variant:
            config["variant"] = variant
        self.config = canonical_json(config)
        self.manifest = canonical_json({
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": "sha256:" + sha256_hex(self.config),
                       "size": len(self.config)},
            "layers": [l.descriptor() for l in layers],
        })

    def platform(self) -> dict:
        p = {"architecture": self.arch, "os": self.os}
        if self.variant:
            p["variant"] = self.variant
        return p

    def blobs(self) -> dict[str, bytes]:
        out = {sha256_hex(self.config): self.config, sha256_hex(self.manifest): self.manifest}
        for l in self.layers:
            out[sha256_hex(l.blob)] = l.blob
        return out

    def manifest_descriptor(self, annotations: dict | None = None, platform: bool = False):
        d = {"mediaType": MT_MANIFEST, "digest": "sha256:" + sha256_hex(self.manifest),
             "size": len(self.manifest)}
        if annotations:
            d["annotations"] = annotations
        if platform:
            d["platform"] = self.platform()
        return d


def index_json(descriptors: list[dict]) -> bytes:
    return canonical_json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": descriptors})


OCI_LAYOUT = canonical_json({"imageLayoutVersion": "1.0.0"})


def write_oci_dir(path: str, blobs: dict[str, bytes], index: bytes) -> None:
    os.makedirs(os.path.join(path, "blobs", "sha256"))
    with open(os.path.join(path, "oci-layout"), "wb") as f:
        f.write(OCI_LAYOUT)
    with open(os.path.join(path, "index.json"), "wb") as f:
        f.write(index)
    for hexd, data in sorted(blobs.items()):
        with open(os.path.join(path, "blobs", "sha256", hexd), "wb") as f:
            f.write(data)


def write_archive(path: str, members: list[tuple[str, bytes | None | str]]) -> None:
    """A plain tar of (name, bytes) files, (name, None) directories, (name, "->target")
    symlinks given as str."""
    with open(path, "wb") as out:
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for name, data in members:
                ti = tarfile.TarInfo(name)
                ti.mtime = MTIME
                ti.uname = ti.gname = ""
                if data is None:
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    tf.addfile(ti)
                elif isinstance(data, str):
                    ti.type, ti.mode, ti.linkname = tarfile.SYMTYPE, 0o777, data
                    tf.addfile(ti)
                else:
                    ti.mode, ti.size = 0o644, len(data)
                    tf.addfile(ti, io.BytesIO(data))


def oci_members(blobs: dict[str, bytes], index: bytes) -> list:
    members = [("oci-layout", OCI_LAYOUT), ("index.json", index), ("blobs/", None),
               ("blobs/sha256/", None)]
    members += [("blobs/sha256/" + h, d) for h, d in sorted(blobs.items())]
    return members


def write_oci_tar(path: str, blobs: dict[str, bytes], index: bytes) -> None:
    write_archive(path, oci_members(blobs, index))


def legacy_layer_ids(img: Image) -> list[str]:
    ids, parent = [], ""
    for l in img.layers:
        lid = sha256_hex(f"{parent}\n{l.diff_id}".encode())
        ids.append(lid)
        parent = lid
    return ids


def write_docker_tar(path: str, img: Image) -> None:
    """Legacy `docker save` (Docker < 25): uncompressed layers at <id>/layer.tar."""
    ids = legacy_layer_ids(img)
    config_hex = sha256_hex(img.config)
    members: list = []
    for i, (lid, layer) in enumerate(zip(ids, img.layers)):
        v1 = {"id": lid, "created": "1970-01-01T00:00:00Z", "container_config": {}}
        if i:
            v1["parent"] = ids[i - 1]
        members += [(lid + "/", None), (lid + "/VERSION", b"1.0"),
                    (lid + "/json", canonical_json(v1)), (lid + "/layer.tar", layer.tar)]
    repo = f"exelock-fixture/{img.name}"
    members.append((config_hex + ".json", img.config))
    members.append(("manifest.json", canonical_json([{
        "Config": config_hex + ".json",
        "RepoTags": [repo + ":latest"],
        "Layers": [lid + "/layer.tar" for lid in ids],
    }])))
    members.append(("repositories", canonical_json({repo: {"latest": ids[-1]}})))
    write_archive(path, members)


def write_docker25_tar(path: str, img: Image) -> None:
    """`docker save` of Docker >= 25: an OCI layout (uncompressed layers) plus manifest.json."""
    unc = Image(img.name, [Layer(l.tar, "none") for l in img.layers], img.arch, img.os,
                img.variant)
    assert unc.config == img.config
    repo = f"exelock-fixture/{img.name}"
    index = index_json([unc.manifest_descriptor({
        "io.containerd.image.name": f"docker.io/{repo}:latest",
        REF_NAME: "latest",
    })])
    members = oci_members(unc.blobs(), index)
    members.append(("manifest.json", canonical_json([{
        "Config": "blobs/sha256/" + sha256_hex(unc.config),
        "RepoTags": [repo + ":latest"],
        "Layers": ["blobs/sha256/" + sha256_hex(l.blob) for l in unc.layers],
    }])))
    members.append(("repositories",
                    canonical_json({repo: {"latest": sha256_hex(unc.layers[-1].tar)}})))
    write_archive(path, members)


def write_all_forms(img: Image) -> None:
    index = index_json([img.manifest_descriptor({REF_NAME: "latest"})])
    write_oci_dir(os.path.join(IMAGES, img.name), img.blobs(), index)
    write_oci_tar(os.path.join(IMAGES, img.name + ".oci.tar"), img.blobs(), index)
    write_docker_tar(os.path.join(IMAGES, img.name + ".docker.tar"), img)
    write_docker25_tar(os.path.join(IMAGES, img.name + ".docker25.tar"), img)


# --------------------------------------------------------------------------------------------
# expected results (hand-declared per fixture)


def interpreter_of(data: bytes) -> str:
    line = data[2:].split(b"\n", 1)[0]
    return line.decode().strip()


def path_fields(path: str) -> dict:
    b = raw(path)
    try:
        b.decode("utf-8")
        return {"path": path}
    except UnicodeDecodeError:
        return {"path": b.decode("utf-8", "replace"),
                "pathBytes": base64.b64encode(b).decode()}


def X(path, key, mode, kind, layer, uid=0, gid=0, interpreter=None):
    """One expected executable. `interpreter` is written by hand for scripts."""
    return dict(path=path, key=key, mode=mode, kind=kind, layer=layer, uid=uid, gid=gid,
                interpreter=interpreter)


def write_expected(name: str, platform: str, executables: list[dict],
                   links: list[tuple[str, str]], hidden: list[tuple[str, str, int, int]]) -> None:
    exes = []
    for x in executables:
        data = CONTENT[x["key"]]
        # Sanity checks on the hand declaration (not a simulation): scripts have a hand-written
        # interpreter that matches the content, ELF files carry their registered build id.
        if x["kind"] == SCRIPT:
            assert data.startswith(b"#!") and x["interpreter"] == interpreter_of(data), x
        else:
            assert x["interpreter"] is None, x
        if x["kind"].startswith("elf"):
            assert data.startswith(b"\x7fELF"), x
        e = path_fields(x["path"])
        e.update(sha256=sha256_hex(data), size=len(data), mode=x["mode"], uid=x["uid"],
                 gid=x["gid"], kind=x["kind"], layer=x["layer"])
        if x["interpreter"] is not None:
            e["interpreter"] = x["interpreter"]
        if x["key"] in BUILD_IDS:
            e["buildId"] = BUILD_IDS[x["key"]]
        # No fixture image carries a package database: nothing is owned by a package.
        e["packageDigest"] = "unowned"
        exes.append((raw(x["path"]), e))
    exe_paths = {p for p, _ in exes}
    assert len(exe_paths) == len(exes), "duplicate expected path"
    lks = []
    for path, target in links:
        assert raw(target) in exe_paths, (path, target)
        lk = path_fields(path)
        t = path_fields(target)
        lk["target"] = t["path"]
        if "pathBytes" in t:
            lk["targetBytes"] = t["pathBytes"]
        lks.append((raw(path), lk))
    hid = []
    for path, key, layer, by in hidden:
        assert layer < by
        h = path_fields(path)
        h.update(sha256=sha256_hex(CONTENT[key]), layer=layer, hiddenBy=by)
        hid.append(((raw(path), layer), h))
    doc = {
        "platform": platform,
        "executables": [e for _, e in sorted(exes, key=lambda t: t[0])],
        "links": [l for _, l in sorted(lks, key=lambda t: t[0])],
        "hidden": [h for _, h in sorted(hid, key=lambda t: t[0])],
    }
    with open(os.path.join(EXPECTED, name + ".json"), "wb") as f:
        f.write(pretty_json(doc))


# --------------------------------------------------------------------------------------------
# fixture: traps

LONG_PAX = "opt/" + "deep/" * 35 + "longname-pax-tool"  # 196 bytes: needs a PAX path record
LONG_GNU = "usr/share/" + "gnu-long-" * 15 + "tool"  # 149 bytes: needs a GNU longname
USTAR_PREFIX = "usr/libexec/" + "ustar-prefix-dir/" * 6 + "helper"  # 120 bytes: prefix field
CAFE = "usr/bin/caf\udce9"  # raw bytes b"usr/bin/caf\xe9" (Latin-1 e-acute, NOT valid UTF-8)
UNICODE = "usr/bin/unicodé-tööl"  # valid UTF-8


def traps() -> None:
    # --- contents
    elf64("traps/busybox", ET_EXEC, interp=False, build_id=True, random_bytes=300 * 1024)
    elf64("traps/tool-v1", ET_DYN, interp=True, build_id=True, random_bytes=2048)
    elf64("traps/tool-v2", ET_DYN, interp=True, build_id=True, random_bytes=3072)
    elf64("traps/libfoo", ET_DYN, interp=False, build_id=True)
    elf64("traps/foo.o", ET_REL, interp=False, build_id=False)
    elf64("traps/sudo", ET_EXEC, interp=True, build_id=True)
    elf64("traps/wall", ET_EXEC, interp=True, build_id=True)
    elf32_be_exec("traps/be32")
    elf64("traps/longname-pax", ET_EXEC, interp=False, build_id=True)
    text("traps/run.sh", "#!/bin/sh\necho run\n")
    text("traps/init.sh", "#!/usr/bin/env bash\necho init\n")
    text("traps/readme", "This is documentation, not an executable.\n")
    text("traps/plain-exec", "hello")
    text("traps/deleted-later", "#!/bin/sh\necho deleted later\n")
    text("traps/a", "#!/bin/sh\necho a\n")
    text("traps/b", "#!/bin/sh\necho b\n")
    text("traps/keep", "#!/bin/sh\r\necho keep, written with CRLF line ends\r\n")
    text("traps/old", "#!/bin/sh\necho old\n")
    text("traps/x", "#!/bin/sh\necho x\n")
    text("traps/file-becomes-dir", "#!/bin/sh\necho file that becomes a dir\n")
    text("traps/helper", "#!/bin/sh\necho helper with a ustar prefix path\n")
    text("traps/c", "#! /bin/sh -e\necho c, written in the opaque layer\n")
    text("traps/dir-becomes-file", "#!/bin/sh\necho dir that becomes a file\n")
    text("traps/y", "#!/bin/sh\necho y\n")
    text("traps/z", "#!/bin/sh\necho z\n")
    text("traps/same-layer", "#!/bin/sh\necho same layer whiteout does not hide me\n")
    text("traps/dotslash", "#!/bin/sh\necho dotslash\n")
    text("traps/abs", "#!/bin/sh\necho abs\n")
    text("traps/new", "#!/bin/sh\necho new, uid 3000000\n")
    text("traps/cafe", "#!/usr/bin/python3\nprint('caf\\xe9')\n")
    text("traps/unicode", "#!/usr/bin/env python3\nprint('unicode')\n")
    text("traps/gnu-long", "#!/bin/sh\necho gnu longname\n")
    text("traps/last", "#!/bin/sh\necho last\n")
    C = CONTENT

    l0 = make_tar([
        F("bin/busybox", C["traps/busybox"]),
        S("bin/sh", "busybox"),
        S("lib64", "usr/lib"),
        F("etc/init.sh", C["traps/init.sh"], 0o644),
        F("usr/bin/tool", C["traps/tool-v1"]),
        S("usr/bin/env-link", "/bin/busybox"),
        S("usr/bin/sh-chain", "../../bin/sh"),
        S("usr/bin/libfoo-via-lib64", "/lib64/libfoo.so.1"),
        S("usr/bin/dangling", "/nonexistent/tool"),
        S("usr/bin/loop-a", "loop-b"),
        S("usr/bin/loop-b", "loop-a"),
        S("usr/bin/deleted-link", "deleted-later"),
        F("usr/bin/plain-exec", C["traps/plain-exec"]),
        F("usr/bin/sudo", C["traps/sudo"], 0o4755, uid=0),
        F("usr/bin/wall", C["traps/wall"], 0o2755, gid=5),
        F("usr/bin/deleted-later", C["traps/deleted-later"]),
        F("usr/bin/be32", C["traps/be32"]),
        F("usr/lib/libfoo.so.1", C["traps/libfoo"], 0o644),
        S("usr/lib/libfoo.so", "libfoo.so.1"),
        F("usr/lib/foo.o", C["traps/foo.o"], 0o644),
        F(USTAR_PREFIX, C["traps/helper"]),
        F("usr/local/bin/run.sh", C["traps/run.sh"]),
        F("usr/share/doc/readme.txt", C["traps/readme"], 0o644),
        F("opt/app/bin/a", C["traps/a"]),
        F("opt/app/bin/b", C["traps/b"]),
        F("opt/app/keep", C["traps/keep"]),
        F("srv/tools/old", C["traps/old"]),
        F("data/dir-becomes-file/x", C["traps/x"]),
        F("data/file-becomes-dir", C["traps/file-becomes-dir"]),
        S("data/link-becomes-dir", "/bin"),
    ], tarfile.USTAR_FORMAT, pax_global={"comment": "exelock fixture: pax global header"})

    l1 = make_tar([
        WH("usr/bin/.wh.deleted-later"),
        D("opt/app/bin/"),
        F("opt/app/bin/c", C["traps/c"]),  # BEFORE the opaque marker: must survive
        WH("opt/app/bin/.wh..wh..opq"),
        F("usr/bin/tool", C["traps/tool-v2"]),
        H("usr/bin/tool-hl", "usr/bin/tool"),
        H("usr/local/bin/run-hl", "usr/local/bin/run.sh"),  # target in the lower layer
        F("data/dir-becomes-file", C["traps/dir-becomes-file"]),
        D("data/file-becomes-dir/"),
        F("data/file-becomes-dir/y", C["traps/y"]),
        D("data/link-becomes-dir/"),
        F("data/link-becomes-dir/z", C["traps/z"]),
        F("usr/bin/same-layer", C["traps/same-layer"]),
        WH("usr/bin/.wh.same-layer"),  # same layer: hides nothing
        WH("etc/.wh..wh..opqX"),  # a whiteout of ".wh..opqX", not an opaque marker
        WH("srv/.wh.tools"),
        F("./usr//bin/dotslash", C["traps/dotslash"]),
        F("/usr/bin/abs", C["traps/abs"]),
    ], tarfile.PAX_FORMAT)

    l2 = make_tar([
        F("srv/tools/new", C["traps/new"], uid=3000000, gid=3000000),
        F(LONG_PAX, C["traps/longname-pax"]),
        F(CAFE, C["traps/cafe"]),
        F(UNICODE, C["traps/unicode"]),
    ], tarfile.PAX_FORMAT)

    l3 = make_tar([
        F(LONG_GNU, C["traps/gnu-long"]),
        S("usr/bin/gnu-sym", "/" + LONG_GNU),
        F("usr/bin/last", C["traps/last"]),
    ], tarfile.GNU_FORMAT)

    # Check the spelling traps really are in the tar bytes.
    assert b"\xe9" in l2 and raw(CAFE) in l2 and b"hdrcharset=BINARY" in l2
    assert b"uid=3000000" in l2 and b"path=" + LONG_PAX.encode() in l2
    assert b"././@LongLink" in l3
    assert b"./usr//bin/dotslash\0" in l1 and b"/usr/bin/abs\0" in l1
    assert b"\0usr/libexec/ustar-prefix-dir\0" in l0 and l0[156:164] == b"g\0\0\0\0\0\0\0"

    img = Image("traps", [Layer(l0, "gzip"), Layer(l1, "zstd"), Layer(l2, "none"),
                          Layer(l3, "gzip2")])
    write_all_forms(img)

    write_expected("traps", "linux/amd64", [
        # layer 0 survivors
        X("/bin/busybox", "traps/busybox", "0755", ELF_EXEC, 0),
        X("/etc/init.sh", "traps/init.sh", "0644", SCRIPT, 0, interpreter="/usr/bin/env bash"),
        X("/opt/app/keep", "traps/keep", "0755", SCRIPT, 0, interpreter="/bin/sh"),
        X("/usr/bin/be32", "traps/be32", "0755", ELF_EXEC, 0),
        X("/usr/bin/plain-exec", "traps/plain-exec", "0755", OTHER, 0),
        X("/usr/bin/sudo", "traps/sudo", "4755", ELF_EXEC, 0, uid=0),
        X("/usr/bin/wall", "traps/wall", "2755", ELF_EXEC, 0, gid=5),
        X("/usr/lib/foo.o", "traps/foo.o", "0644", ELF_OTHER, 0),
        X("/usr/lib/libfoo.so.1", "traps/libfoo", "0644", ELF_SO, 0),
        X("/" + USTAR_PREFIX, "traps/helper", "0755", SCRIPT, 0, interpreter="/bin/sh"),
        X("/usr/local/bin/run.sh", "traps/run.sh", "0755", SCRIPT, 0, interpreter="/bin/sh"),
        # layer 1
        X("/data/dir-becomes-file", "traps/dir-becomes-file", "0755", SCRIPT, 1,
          interpreter="/bin/sh"),
        X("/data/file-becomes-dir/y", "traps/y", "0755", SCRIPT, 1, interpreter="/bin/sh"),
        X("/data/link-becomes-dir/z", "traps/z", "0755", SCRIPT, 1, interpreter="/bin/sh"),
        X("/opt/app/bin/c", "traps/c", "0755", SCRIPT, 1, interpreter="/bin/sh -e"),
        X("/usr/bin/abs", "traps/abs", "0755", SCRIPT, 1, interpreter="/bin/sh"),
        X("/usr/bin/dotslash", "traps/dotslash", "0755", SCRIPT, 1, interpreter="/bin/sh"),
        X("/usr/bin/same-layer", "traps/same-layer", "0755", SCRIPT, 1, interpreter="/bin/sh"),
        X("/usr/bin/tool", "traps/tool-v2", "0755", ELF_EXEC, 1),
        X("/usr/bin/tool-hl", "traps/tool-v2", "0755", ELF_EXEC, 1),
        X("/usr/local/bin/run-hl", "traps/run.sh", "0755", SCRIPT, 1, interpreter="/bin/sh"),
        # layer 2
        X("/" + LONG_PAX, "traps/longname-pax", "0755", ELF_EXEC, 2),
        X("/srv/tools/new", "traps/new", "0755", SCRIPT, 2, uid=3000000, gid=3000000,
          interpreter="/bin/sh"),
        X("/" + CAFE, "traps/cafe", "0755", SCRIPT, 2, interpreter="/usr/bin/python3"),
        X("/" + UNICODE, "traps/unicode", "0755", SCRIPT, 2,
          interpreter="/usr/bin/env python3"),
        # layer 3
        X("/" + LONG_GNU, "traps/gnu-long", "0755", SCRIPT, 3, interpreter="/bin/sh"),
        X("/usr/bin/last", "traps/last", "0755", SCRIPT, 3, interpreter="/bin/sh"),
    ], links=[
        ("/bin/sh", "/bin/busybox"),
        ("/usr/bin/env-link", "/bin/busybox"),
        ("/usr/bin/sh-chain", "/bin/busybox"),  # -> ../../bin/sh -> busybox
        ("/usr/bin/libfoo-via-lib64", "/usr/lib/libfoo.so.1"),  # through the /lib64 dir link
        ("/usr/lib/libfoo.so", "/usr/lib/libfoo.so.1"),
        ("/usr/bin/gnu-sym", "/" + LONG_GNU),
        # NOT links: /lib64 (a directory), /usr/bin/dangling, /usr/bin/loop-a, /usr/bin/loop-b,
        # /usr/bin/deleted-link (its target was whited out in layer 1).
    ], hidden=[
        ("/usr/bin/deleted-later", "traps/deleted-later", 0, 1),
        ("/opt/app/bin/a", "traps/a", 0, 1),
        ("/opt/app/bin/b", "traps/b", 0, 1),
        ("/usr/bin/tool", "traps/tool-v1", 0, 1),
        ("/data/dir-becomes-file/x", "traps/x", 0, 1),
        ("/data/file-becomes-dir", "traps/file-becomes-dir", 0, 1),
        ("/srv/tools/old", "traps/old", 0, 1),
    ])


# --------------------------------------------------------------------------------------------
# fixture: multiarch


def multiarch() -> None:
    elf64("multiarch/hello-amd64", ET_EXEC, interp=False, build_id=True, machine=0x3E)
    elf64("multiarch/hello-arm64", ET_EXEC, interp=False, build_id=True, machine=0xB7)
    text("multiarch/sbom", canonical_json({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": "exelock-fixture/multiarch"}],
        "predicate": {"spdxVersion": "SPDX-2.3", "packages": []},
    }))
    amd = Image("multiarch", [Layer(make_tar(
        [F("usr/bin/hello-amd64", CONTENT["multiarch/hello-amd64"])], tarfile.PAX_FORMAT),
        "gzip")], "amd64")
    arm = Image("multiarch", [Layer(make_tar(
        [F("usr/bin/hello-arm64", CONTENT["multiarch/hello-arm64"])], tarfile.PAX_FORMAT),
        "gzip")], "arm64", variant="v8")

    # Attestation manifest as buildx writes it: platform unknown/unknown, one in-toto layer.
    sbom = CONTENT["multiarch/sbom"]
    att_config = canonical_json({"architecture": "unknown", "os": "unknown", "config": {},
                                 "rootfs": {"type": "layers",
                                            "diff_ids": ["sha256:" + sha256_hex(sbom)]}})
    att_manifest = canonical_json({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": "sha256:" + sha256_hex(att_config),
                   "size": len(att_config)},
        "layers": [{"mediaType": MT_INTOTO, "digest": "sha256:" + sha256_hex(sbom),
                    "size": len(sbom),
                    "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"}}],
    })
    att_desc = {"mediaType": MT_MANIFEST, "digest": "sha256:" + sha256_hex(att_manifest),
                "size": len(att_manifest),
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": "sha256:" + sha256_hex(amd.manifest),
                    "vnd.docker.reference.type": "attestation-manifest"}}
    nested = index_json([amd.manifest_descriptor(platform=True),
                         arm.manifest_descriptor(platform=True), att_desc])
    blobs = {}
    blobs.update(amd.blobs())
    blobs.update(arm.blobs())
    blobs.update({sha256_hex(att_config): att_config, sha256_hex(att_manifest): att_manifest,
                  sha256_hex(sbom): sbom, sha256_hex(nested): nested})
    # index.json -> nested image index -> platform manifests (what buildx's OCI exporter and
    # `skopeo copy --all` write).
    top = index_json([{"mediaType": MT_INDEX, "digest": "sha256:" + sha256_hex(nested),
                       "size": len(nested), "annotations": {REF_NAME: "latest"}}])
    write_oci_dir(os.path.join(IMAGES, "multiarch"), blobs, top)
    write_oci_tar(os.path.join(IMAGES, "multiarch.oci.tar"), blobs, top)
    write_docker_tar(os.path.join(IMAGES, "multiarch.docker.tar"), amd)
    write_docker25_tar(os.path.join(IMAGES, "multiarch.docker25.tar"), amd)

    write_expected("multiarch-amd64", "linux/amd64", [
        X("/usr/bin/hello-amd64", "multiarch/hello-amd64", "0755", ELF_EXEC, 0),
    ], links=[], hidden=[])
    write_expected("multiarch-arm64", "linux/arm64/v8", [
        X("/usr/bin/hello-arm64", "multiarch/hello-arm64", "0755", ELF_EXEC, 0),
    ], links=[], hidden=[])


# --------------------------------------------------------------------------------------------
# fixture: demo (for the README)


def demo() -> None:
    elf64("demo/busybox", ET_DYN, interp=True, build_id=True, random_bytes=16 * 1024)
    elf64("demo/ld-musl", ET_DYN, interp=False, build_id=True, random_bytes=4096)
    elf64("demo/bbsuid", ET_DYN, interp=True, build_id=True, random_bytes=512)
    elf64("demo/apk", ET_DYN, interp=True, build_id=True, random_bytes=2048)
    elf64("demo/ssl_client", ET_DYN, interp=True, build_id=True, random_bytes=1024)
    elf64("demo/app", ET_DYN, interp=True, build_id=True, random_bytes=8192)
    elf64("demo/libapp", ET_DYN, interp=False, build_id=True, random_bytes=2048)
    text("demo/os-release", 'NAME="Demo Linux"\nID=demo\nVERSION_ID=1.0\n')
    text("demo/entrypoint", '#!/bin/sh\nset -e\nexec /usr/local/bin/app "$@"\n')
    text("demo/healthcheck", "#!/usr/bin/env python3\nimport sys\nsys.exit(0)\n")
    text("demo/debug-shell", "#!/bin/sh\nexec /bin/sh -i\n")
    text("demo/config", "listen: 0.0.0.0:8080\nlog: info\n")
    text("demo/migrate", "#!/bin/sh\nset -e\necho migrating\n")
    C = CONTENT

    l0 = make_tar([
        F("bin/busybox", C["demo/busybox"]),
        S("bin/sh", "busybox"),
        S("bin/ls", "/bin/busybox"),
        S("bin/cat", "/bin/busybox"),
        S("bin/mount", "/bin/busybox"),
        F("bin/bbsuid", C["demo/bbsuid"], 0o4111),
        F("etc/os-release", C["demo/os-release"], 0o644),
        F("lib/ld-musl-x86_64.so.1", C["demo/ld-musl"]),
        S("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
        F("sbin/apk", C["demo/apk"]),
        S("usr/bin/wget", "/bin/busybox"),
        F("usr/bin/ssl_client", C["demo/ssl_client"]),
    ], tarfile.PAX_FORMAT)
    l1 = make_tar([
        F("usr/local/bin/app", C["demo/app"]),
        F("usr/local/bin/entrypoint.sh", C["demo/entrypoint"]),
        F("usr/local/bin/healthcheck.py", C["demo/healthcheck"]),
        F("usr/local/bin/debug-shell", C["demo/debug-shell"]),
        F("usr/local/lib/libapp.so.1", C["demo/libapp"]),
    ], tarfile.PAX_FORMAT)
    l2 = make_tar([
        F("etc/app/config.yaml", C["demo/config"], 0o644),
        WH("usr/local/bin/.wh.debug-shell"),
        F("usr/local/bin/migrate", C["demo/migrate"], 0o750, uid=1000, gid=1000),
    ], tarfile.PAX_FORMAT)
    img = Image("demo", [Layer(l0, "gzip"), Layer(l1, "gzip"), Layer(l2, "zstd")])
    write_all_forms(img)

    write_expected("demo", "linux/amd64", [
        X("/bin/busybox", "demo/busybox", "0755", ELF_EXEC, 0),
        X("/bin/bbsuid", "demo/bbsuid", "4111", ELF_EXEC, 0),
        X("/lib/ld-musl-x86_64.so.1", "demo/ld-musl", "0755", ELF_SO, 0),
        X("/sbin/apk", "demo/apk", "0755", ELF_EXEC, 0),
        X("/usr/bin/ssl_client", "demo/ssl_client", "0755", ELF_EXEC, 0),
        X("/usr/local/bin/app", "demo/app", "0755", ELF_EXEC, 1),
        X("/usr/local/bin/entrypoint.sh", "demo/entrypoint", "0755", SCRIPT, 1,
          interpreter="/bin/sh"),
        X("/usr/local/bin/healthcheck.py", "demo/healthcheck", "0755", SCRIPT, 1,
          interpreter="/usr/bin/env python3"),
        X("/usr/local/lib/libapp.so.1", "demo/libapp", "0755", ELF_SO, 1),
        X("/usr/local/bin/migrate", "demo/migrate", "0750", SCRIPT, 2, uid=1000, gid=1000,
          interpreter="/bin/sh"),
    ], links=[
        ("/bin/sh", "/bin/busybox"),
        ("/bin/ls", "/bin/busybox"),
        ("/bin/cat", "/bin/busybox"),
        ("/bin/mount", "/bin/busybox"),
        ("/usr/bin/wget", "/bin/busybox"),
        ("/lib/libc.musl-x86_64.so.1", "/lib/ld-musl-x86_64.so.1"),
    ], hidden=[
        ("/usr/local/bin/debug-shell", "demo/debug-shell", 1, 2),
    ])


# --------------------------------------------------------------------------------------------
# fixture: tiny (one gzip layer; the base of every bad input)


def tiny() -> Image:
    elf64("tiny/hello", ET_EXEC, interp=True, build_id=True)
    text("tiny/hello.sh", "#!/bin/sh\necho hello\n")
    img = Image("tiny", [Layer(make_tar([
        F("bin/hello", CONTENT["tiny/hello"]),
        F("bin/hello.sh", CONTENT["tiny/hello.sh"]),
    ], tarfile.PAX_FORMAT), "gzip")])
    write_all_forms(img)
    write_expected("tiny", "linux/amd64", [
        X("/bin/hello", "tiny/hello", "0755", ELF_EXEC, 0),
        X("/bin/hello.sh", "tiny/hello.sh", "0755", SCRIPT, 0, interpreter="/bin/sh"),
    ], links=[], hidden=[])
    return img


# --------------------------------------------------------------------------------------------
# fixture: twice (one path written twice in a layer; the last entry wins)


def twice() -> None:
    elf64("twice/app-v1", ET_DYN, interp=True, build_id=True, random_bytes=6000)
    elf64("twice/app-v2", ET_DYN, interp=True, build_id=True, random_bytes=9000)
    C = CONTENT
    # Layer 0 is an uncompressed tar, so a test can swap bytes of a stored blob in place (same
    # length, other content) and see the digests catch it.
    l0 = make_tar([
        F("usr/bin/app", C["twice/app-v1"]),
        # A hardlink takes its target as it is at the link: here, the first write.
        H("usr/bin/app-early", "usr/bin/app"),
        F("usr/bin/app", C["twice/app-v2"]),
        H("usr/bin/app-late", "usr/bin/app"),
    ], tarfile.PAX_FORMAT)
    assert l0.count(C["twice/app-v1"]) == 1 and l0.count(C["twice/app-v2"]) == 1
    l1 = make_tar([H("usr/local/bin/app-lower", "usr/bin/app")], tarfile.PAX_FORMAT)
    img = Image("twice", [Layer(l0, "none"), Layer(l1, "gzip")])
    write_all_forms(img)
    write_expected("twice", "linux/amd64", [
        X("/usr/bin/app", "twice/app-v2", "0755", ELF_EXEC, 0),
        X("/usr/bin/app-early", "twice/app-v1", "0755", ELF_EXEC, 0),
        X("/usr/bin/app-late", "twice/app-v2", "0755", ELF_EXEC, 0),
        X("/usr/local/bin/app-lower", "twice/app-v2", "0755", ELF_EXEC, 1),
    ], links=[], hidden=[])


# --------------------------------------------------------------------------------------------
# bad inputs


def layout_of(img: Image, layers: list[Layer], config: bytes | None = None,
              layer_blob_override: bytes | None = None):
    """(blobs, index.json) for a one-manifest image, with an optional hand-made config."""
    if config is None:
        config = canonical_json({"architecture": "amd64", "os": "linux", "config": {},
                                 "rootfs": {"type": "layers",
                                            "diff_ids": [l.diff_id for l in layers]}})
    descs = [l.descriptor() for l in layers]
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": "sha256:" + sha256_hex(config),
                   "size": len(config)},
        "layers": descs,
    })
    blobs = {sha256_hex(config): config, sha256_hex(manifest): manifest}
    for l in layers:
        blobs[sha256_hex(l.blob)] = l.blob
    index = index_json([{"mediaType": MT_MANIFEST, "digest": "sha256:" + sha256_hex(manifest),
                         "size": len(manifest), "annotations": {REF_NAME: "latest"}}])
    return blobs, index


def bad_inputs(base: Image) -> None:
    layer = base.layers[0]
    layer_hex = sha256_hex(layer.blob)

    # digest-mismatch: same length, still a valid gzip with the same content (only the gzip
    # header's OS byte changed, 255 -> 3), stored under the original digest.
    blobs, index = layout_of(base, [layer])
    changed = bytearray(layer.blob)
    assert changed[9] == 255
    changed[9] = 3
    assert gzip.decompress(bytes(changed)) == layer.tar and bytes(changed) != layer.blob
    blobs[layer_hex] = bytes(changed)
    write_oci_dir(os.path.join(BAD, "digest-mismatch"), blobs, index)

    # diffid-mismatch: config's diff_id is a well-formed but wrong sha256.
    wrong = canonical_json({"architecture": "amd64", "os": "linux", "config": {},
                            "rootfs": {"type": "layers", "diff_ids": [
                                "sha256:" + sha256_hex(b"not the layer tar")]}})
    blobs, index = layout_of(base, [layer], config=wrong)
    write_oci_dir(os.path.join(BAD, "diffid-mismatch"), blobs, index)

    # truncated-layer: the blob file holds only the first half; name and descriptor unchanged.
    blobs, index = layout_of(base, [layer])
    blobs[layer_hex] = layer.blob[: len(layer.blob) // 2]
    write_oci_dir(os.path.join(BAD, "truncated-layer"), blobs, index)

    # corrupt-gzip: digest and size match the stored bytes, which are a gzip header + garbage.
    garbage = Layer(b"", "none")
    garbage.blob = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + bytes(RNG.randbytes(512))
    garbage.media_type = MT_GZIP
    garbage.digest = "sha256:" + sha256_hex(garbage.blob)
    garbage.diff_id = layer.diff_id
    blobs, index = layout_of(base, [garbage])
    write_oci_dir(os.path.join(BAD, "corrupt-gzip"), blobs, index)

    # dotdot: a consistent image whose layer has an entry escaping the root.
    evil = Layer(make_tar([
        F("bin/hello.sh", CONTENT["tiny/hello.sh"]),
        F("usr/../../etc/evil", text("bad/evil", "#!/bin/sh\necho evil\n")),
    ], tarfile.PAX_FORMAT, auto_dirs=False), "gzip")
    assert b"usr/../../etc/evil\0" in evil.tar
    blobs, index = layout_of(base, [evil])
    write_oci_dir(os.path.join(BAD, "dotdot"), blobs, index)

    # missing-blob: the layer blob is absent.
    blobs, index = layout_of(base, [layer])
    del blobs[layer_hex]
    write_oci_dir(os.path.join(BAD, "missing-blob"), blobs, index)

    # malformed-index: index.json is truncated JSON.
    blobs, index = layout_of(base, [layer])
    write_oci_dir(os.path.join(BAD, "malformed-index"), blobs, index[: len(index) // 2])

    # not-a-tar.docker.tar: random bytes.
    with open(os.path.join(BAD, "not-a-tar.docker.tar"), "wb") as f:
        f.write(bytes(RNG.randbytes(4096)))


# --------------------------------------------------------------------------------------------


def main() -> None:
    for d in (IMAGES, EXPECTED, BAD):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    traps()
    multiarch()
    demo()
    base = tiny()
    bad_inputs(base)
    twice()  # last: it draws from RNG after every older fixture, so theirs stay as they were
    total = 0
    for dirpath, _, files in os.walk(HERE):
        for name in files:
            total += os.path.getsize(os.path.join(dirpath, name))
    print(f"fixtures written under {HERE} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
