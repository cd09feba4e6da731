#!/usr/bin/env python3
"""Cross-check exelock's DSSE envelopes with an independent implementation: securesystemslib.

Usage:
  dsse_interop.py verify ENVELOPE_JSON PUBKEY_PEM
      Verify a DSSE envelope (exactly one valid signature, threshold 1) with an ECDSA P-256
      public key (SubjectPublicKeyInfo PEM). Exit 0 when valid, 1 when verification fails.
  dsse_interop.py sign PAYLOAD_FILE PRIVKEY_PEM OUT_ENVELOPE [PAYLOAD_TYPE]
      Sign PAYLOAD_FILE's bytes as a DSSE envelope with an unencrypted PKCS#8 P-256 key and
      write the envelope JSON. PAYLOAD_TYPE defaults to application/vnd.in-toto+json.

securesystemslib only tries keys whose keyid equals the signature's keyid. exelock, like cosign,
writes an empty keyid, so `verify` names the key "" and thereby also checks that the keyid is
empty. `sign` names it the way earlier exelock releases did (lowercase hex SHA-256 of the public
key's SubjectPublicKeyInfo DER), which exelock must still accept.

Needs: python3 -m pip install 'securesystemslib[crypto]==1.6.0'
Exit 2 on usage or input errors.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

try:
    from cryptography.hazmat.primitives import serialization
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import CryptoSigner, SSlibKey
except ImportError as error:  # pragma: no cover - reported to the Rust test
    print(f"securesystemslib is not installed: {error}", file=sys.stderr)
    sys.exit(3)

IN_TOTO = "application/vnd.in-toto+json"
SCHEME = "ecdsa-sha2-nistp256"


def key_id(public_key) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def verify(envelope_path: str, pubkey_path: str) -> int:
    public = serialization.load_pem_public_key(Path(pubkey_path).read_bytes())
    named = SSlibKey.from_crypto(public, scheme=SCHEME)
    # from_crypto computes a keyid for an empty one; the constructor takes it as given.
    key = SSlibKey("", named.keytype, named.scheme, named.keyval)
    envelope = Envelope.from_dict(json.loads(Path(envelope_path).read_text()))
    if len(envelope.signatures) != 1:
        print(f"expected one signature, got {len(envelope.signatures)}", file=sys.stderr)
        return 1
    try:
        envelope.verify([key], 1)
    except VerificationError as error:
        print(f"verification failed: {error}", file=sys.stderr)
        return 1
    print(f"ok: {envelope.payload_type}, {len(envelope.payload)} payload bytes, keyid {key.keyid!r}")
    return 0


def sign(payload_path: str, privkey_path: str, out_path: str, payload_type: str) -> int:
    private = serialization.load_pem_private_key(Path(privkey_path).read_bytes(), password=None)
    public = SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()), scheme=SCHEME)
    envelope = Envelope(payload=Path(payload_path).read_bytes(), payload_type=payload_type, signatures={})
    envelope.sign(CryptoSigner(private, public))
    Path(out_path).write_text(json.dumps(envelope.to_dict()))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "verify":
        return verify(argv[2], argv[3])
    if len(argv) in (5, 6) and argv[1] == "sign":
        return sign(argv[2], argv[3], argv[4], argv[5] if len(argv) == 6 else IN_TOTO)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
