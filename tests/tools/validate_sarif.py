"""Validates SARIF files against the SARIF 2.1.0 JSON schema; exit 1 when any is invalid.

Usage: python3 tests/tools/validate_sarif.py SCHEMA.json FILE.sarif...
"""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1], encoding="utf-8"))
validator = jsonschema.Draft7Validator(schema)
bad = 0
for path in sys.argv[2:]:
    errors = sorted(validator.iter_errors(json.load(open(path, encoding="utf-8"))), key=str)
    for error in errors:
        bad += 1
        print(f"{path}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
print(f"sarif: {len(sys.argv) - 2} files, {bad} schema errors")
sys.exit(1 if bad else 0)
