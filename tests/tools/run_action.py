"""Runs a composite action's shell steps the way a GitHub runner would, for tests.

Usage: python3 tests/tools/run_action.py ACTION_YML INPUTS_JSON [--skip STEP_ID ...]

Each `run:` step is run with `bash --noprofile --norc -eo pipefail` (what `shell: bash` means
on a runner), its `env:` with `${{ inputs.* }}` and `${{ github.action_path }}` expanded, and
GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / RUNNER_TEMP taken from the environment. Steps named with
--skip are not run (the install step, which builds a release binary). Prints one JSON object:
{"outputs": {...}, "steps": {id: exit code}}; exits with the first failing step's code.
"""
import json
import os
import re
import subprocess
import sys

import yaml

action_path, inputs_json, *rest = sys.argv[1:]
skip = {rest[i + 1] for i, arg in enumerate(rest) if arg == "--skip"}
action = yaml.safe_load(open(action_path, encoding="utf-8"))
inputs = {name: spec.get("default", "") for name, spec in action.get("inputs", {}).items()}
given = json.loads(inputs_json)
unknown = set(given) - set(inputs)
if unknown:
    sys.exit(f"unknown inputs: {sorted(unknown)}")
inputs.update(given)
missing = [n for n, spec in action["inputs"].items() if spec.get("required") and not inputs.get(n)]
if missing:
    sys.exit(f"missing required inputs: {missing}")

step_outputs = {}


def expand(text):
    def value(match):
        expression = match.group(1).strip()
        if expression.startswith("inputs."):
            return str(inputs[expression[len("inputs."):]])
        if expression == "github.action_path":
            return os.path.dirname(os.path.abspath(action_path))
        parts = expression.split(".")
        if parts[0] == "steps" and parts[2] == "outputs":
            return step_outputs.get(parts[1], {}).get(parts[3], "")
        sys.exit(f"unsupported expression: {expression}")

    return re.sub(r"\$\{\{(.*?)\}\}", value, str(text))


def read_outputs(path):
    outputs = {}
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            if "=" in line:
                name, _, value = line.rstrip("\n").partition("=")
                outputs[name] = value
    return outputs


codes = {}
failed = 0
for step in action["runs"]["steps"]:
    step_id = step.get("id", step.get("name"))
    if step_id in skip or "run" not in step:
        continue
    assert step.get("shell") == "bash", f"step {step_id} must say shell: bash"
    output_file = os.path.join(os.environ["RUNNER_TEMP"], f"output-{step_id}")
    open(output_file, "w").close()
    env = dict(os.environ)
    env.update({name: expand(value) for name, value in step.get("env", {}).items()})
    env["GITHUB_OUTPUT"] = output_file
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env)
    codes[step_id] = result.returncode
    step_outputs[step_id] = read_outputs(output_file)
    if result.returncode != 0:
        failed = result.returncode
        break
outputs = {name: expand(spec["value"]) for name, spec in action.get("outputs", {}).items()}
print(json.dumps({"outputs": outputs, "steps": codes}))
sys.exit(failed)
