#!/usr/bin/env python3
"""Build the keyless-verification fixtures in testdata/attest/keyless/ with the openssl CLI.

Usage:  python3 testdata/attest/make_keyless_fixtures.py

A Fulcio-like CA hierarchy, Fulcio-like leaf certificates and a Rekor-like log key, plus the
trusted_root.json that trusts them. Everything is made by OpenSSL, an implementation independent
of the Rust code that verifies it. Keys are random, so each run changes every file: rerun only
when the fixtures must change, and commit the script and its output together. The Rust tests
sign envelopes with leaf.key and compute signed entry timestamps with rekor.key at test time.

Times (all UTC) are fixed, because verification happens at a log entry's integratedTime, not now:

  fulcio-root    P-384 self-signed CA          2025-01-01 .. 2035-01-01   (like Fulcio's, SHA-384)
  chain-root     P-256 self-signed CA          2025-01-01 .. 2035-01-01
  chain-int      P-256 CA under chain-root     2025-01-01 .. 2035-01-01
  other-root     P-256 self-signed CA, NOT in trusted_root.json
  old-root       P-256 self-signed CA          2020-01-01 .. 2021-01-01   (expired before the leaves)
  leaf*.pem      P-256 leaves (all with leaf.key), 2026-01-01T00:00:00Z .. 00:10:00Z (10 minutes)

Leaves:
  leaf.pem                 fulcio-root; URI SAN; code signing; issuer in 57264.1.8 and 57264.1.1
  leaf-email.pem           fulcio-root; email SAN; issuer only in the legacy 57264.1.1
  leaf-no-eku.pem          fulcio-root; like leaf.pem but serverAuth instead of codeSigning
  leaf-other-ca.pem        other-root; like leaf.pem
  leaf-via-int.pem         chain-int; like leaf.pem (a two-level chain)
  leaf-old-ca.pem          old-root; like leaf.pem, but its issuer had expired when it was made
  leaf-under-leaf.pem      issued by leaf.pem itself, which is not a CA; like leaf.pem
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "keyless"

IDENTITY = "https://github.com/exelock/demo/.github/workflows/release.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"
EMAIL = "signer@example.com"
EMAIL_ISSUER = "https://accounts.example.com"

CA_START, CA_END = "20250101000000Z", "20350101000000Z"
OLD_CA_START, OLD_CA_END = "20200101000000Z", "20210101000000Z"
LEAF_START, LEAF_END = "20260101000000Z", "20260101001000Z"

CA_EXTENSIONS = """
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""


def leaf_extensions(san: str, eku: str, issuer_v2: str | None, issuer_v1: str | None) -> str:
    lines = [
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature",
        f"extendedKeyUsage = {eku}",
        f"subjectAltName = critical, {san}",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid",
    ]
    if issuer_v1 is not None:
        # The legacy extension's value is the raw string bytes, not a DER string.
        lines.append("1.3.6.1.4.1.57264.1.1 = DER:" + ":".join(f"{b:02X}" for b in issuer_v1.encode()))
    if issuer_v2 is not None:
        lines.append(f"1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:{issuer_v2}")
    return "\n".join(lines) + "\n"


def run(*args: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def genkey(path: Path, curve: str) -> None:
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-out", str(path))


def sign(
    work: Path,
    name: str,
    key: Path,
    subject: str,
    extensions: str,
    start: str,
    end: str,
    ca: tuple[Path, Path] | None,
    digest: str,
) -> Path:
    """Issue a certificate for `key` with `openssl ca`; self-signed when `ca` is None."""
    db = work / f"db-{name}"
    db.mkdir()
    (db / "index.txt").write_text("")
    (db / "serial").write_text(hashlib.sha256(name.encode()).hexdigest()[:16] + "\n")
    config = db / "ca.cnf"
    config.write_text(
        f"""[ca]
default_ca = ca_section
[ca_section]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
policy = policy_any
unique_subject = no
copy_extensions = none
[policy_any]
commonName = optional
organizationName = optional
[ext]
{extensions}"""
    )
    csr = db / "req.csr"
    run("openssl", "req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    out = OUT / f"{name}.pem"
    command = [
        "openssl", "ca", "-batch", "-notext", "-config", str(config), "-in", str(csr),
        "-out", str(out), "-startdate", start, "-enddate", end, "-extensions", "ext",
        "-md", digest, "-preserveDN",
    ]
    if ca is None:
        command += ["-selfsign", "-keyfile", str(key)]
    else:
        command += ["-cert", str(ca[0]), "-keyfile", str(ca[1])]
    run(*command)
    return out


def der_of_pem(path: Path) -> bytes:
    return subprocess.run(
        ["openssl", "x509", "-in", str(path), "-outform", "DER"], check=True, capture_output=True
    ).stdout


def spki_der(key: Path) -> bytes:
    return subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        keys = {}
        for name, curve in [
            ("fulcio-root", "P-384"),
            ("chain-root", "P-256"),
            ("chain-int", "P-256"),
            ("other-root", "P-256"),
            ("old-root", "P-256"),
            ("leaf", "P-256"),
            ("rekor", "P-256"),
        ]:
            keys[name] = OUT / f"{name}.key"
            genkey(keys[name], curve)

        fulcio = sign(work, "fulcio-root", keys["fulcio-root"], "/O=exelock test/CN=test fulcio root",
                      CA_EXTENSIONS, CA_START, CA_END, None, "sha384")
        chain_root = sign(work, "chain-root", keys["chain-root"], "/O=exelock test/CN=test chain root",
                          CA_EXTENSIONS, CA_START, CA_END, None, "sha256")
        chain_int = sign(work, "chain-int", keys["chain-int"], "/O=exelock test/CN=test intermediate",
                         CA_EXTENSIONS, CA_START, CA_END, (chain_root, keys["chain-root"]), "sha256")
        other = sign(work, "other-root", keys["other-root"], "/O=exelock test/CN=test fulcio root",
                     CA_EXTENSIONS, CA_START, CA_END, None, "sha256")
        old = sign(work, "old-root", keys["old-root"], "/O=exelock test/CN=test old root",
                   CA_EXTENSIONS, OLD_CA_START, OLD_CA_END, None, "sha256")

        uri = f"URI:{IDENTITY}"
        leaves = [
            ("leaf", uri, "codeSigning", ISSUER, ISSUER, (fulcio, keys["fulcio-root"]), "sha384"),
            ("leaf-email", f"email:{EMAIL}", "codeSigning", None, EMAIL_ISSUER, (fulcio, keys["fulcio-root"]), "sha384"),
            ("leaf-no-eku", uri, "serverAuth", ISSUER, ISSUER, (fulcio, keys["fulcio-root"]), "sha384"),
            ("leaf-other-ca", uri, "codeSigning", ISSUER, ISSUER, (other, keys["other-root"]), "sha256"),
            ("leaf-via-int", uri, "codeSigning", ISSUER, ISSUER, (chain_int, keys["chain-int"]), "sha256"),
            ("leaf-old-ca", uri, "codeSigning", ISSUER, ISSUER, (old, keys["old-root"]), "sha256"),
        ]
        for name, san, eku, issuer_v2, issuer_v1, ca, digest in leaves:
            sign(work, name, keys["leaf"], "/O=sigstore.dev", leaf_extensions(san, eku, issuer_v2, issuer_v1),
                 LEAF_START, LEAF_END, ca, digest)
        # Issued by a leaf: OpenSSL does not stop a non-CA from signing, the verifier must.
        sign(work, "leaf-under-leaf", keys["leaf"], "/O=sigstore.dev/CN=under leaf",
             leaf_extensions(uri, "codeSigning", ISSUER, ISSUER), LEAF_START, LEAF_END,
             (OUT / "leaf.pem", keys["leaf"]), "sha256")

    rekor_spki = spki_der(keys["rekor"])
    (OUT / "rekor.pub").write_bytes(
        subprocess.run(["openssl", "pkey", "-in", str(keys["rekor"]), "-pubout"], check=True, capture_output=True).stdout
    )
    trusted_root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [
            {
                "baseUrl": "https://rekor.example.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(rekor_spki),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2025-01-01T00:00:00Z"},
                },
                "logId": {"keyId": b64(hashlib.sha256(rekor_spki).digest())},
            }
        ],
        "certificateAuthorities": [
            {
                "subject": {"organization": "exelock test", "commonName": "test fulcio root"},
                "uri": "https://fulcio.example.invalid",
                "certChain": {"certificates": [{"rawBytes": b64(der_of_pem(fulcio))}]},
                "validFor": {"start": "2025-01-01T00:00:00Z"},
            },
            {
                "subject": {"organization": "exelock test", "commonName": "test chain root"},
                "uri": "https://fulcio-chain.example.invalid",
                "certChain": {
                    "certificates": [{"rawBytes": b64(der_of_pem(chain_int))}, {"rawBytes": b64(der_of_pem(chain_root))}]
                },
                "validFor": {"start": "2025-01-01T00:00:00.000Z", "end": "2035-01-01T00:00:00Z"},
            },
            {
                "subject": {"organization": "exelock test", "commonName": "test old root"},
                "uri": "https://fulcio-old.example.invalid",
                "certChain": {"certificates": [{"rawBytes": b64(der_of_pem(old))}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            },
        ],
        "ctlogs": [],
        "timestampAuthorities": [],
    }
    (OUT / "trusted_root.json").write_text(json.dumps(trusted_root, indent=2) + "\n")
    for name in ["chain-root", "chain-int", "other-root", "old-root", "fulcio-root"]:
        # CA private keys are not needed by the tests; keep only what they use.
        (OUT / f"{name}.key").unlink()


if __name__ == "__main__":
    main()
