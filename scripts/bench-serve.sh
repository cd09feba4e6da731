#!/usr/bin/env bash
# Load benchmark of `exelock serve`: N mixed findings (100,000 by default) pushed over loopback
# by `oha`, against two configurations side by side:
#   postgres x2  two replicas sharing one PostgreSQL store (Debian's server, started here on a
#                loopback port with a temporary data directory), requests spread over both;
#   sqlite x1    one replica on its embedded SQLite file.
# The mix: four sources at once (SCC through Pub/Sub push with a signed JWT checked against a
# local JWKS, GuardDuty EventBridge events with an API key, Falcosidekick posts with a bearer
# token, SCC findings on /v1/findings), about three attested images in a local registry
# (CNCF distribution, `docker-registry`), unchanged, relocated and foreign binaries, and
# redeliveries: each source draws its bodies at random from DISTINCT/4 distinct findings, so
# most ids arrive several times.
#
# Per configuration it prints findings/s (200 answers over the wall time of the load), p50 and
# p99 latency over every request of every source (from oha's per-request records), the peak RSS
# of each replica (VmHWM), and the records in the database against the distinct findings sent,
# with the stored delivery count against the 200 answers: after the load, every distinct finding
# is posted once more, so the store must hold exactly DISTINCT records whose deliveries add up
# to exactly the 200 answers (nothing lost, nothing counted twice). Next to findings/s it prints
# the baseline measured in the same run: the same replicas answering /healthz to the same load
# generator, the most requests a second HTTP alone allows on this machine. For SQLite it also
# prints what the replica wrote to disk per finding (log, checkpoints), from /proc/PID/io.
# Targets (issue 12): >= 5,000 findings/s, p99 < 50 ms with a warm cache, peak RSS < 128 MiB per
# replica, records == distinct and deliveries == 200 answers.
#
# Needs: docker-registry, skopeo, openssl, python3, sqlite3, curl, PostgreSQL (Debian's
# `postgresql`); installs oha with `cargo install oha --locked --root .tools/oha` when missing.
# Everything listens on 127.0.0.1 and is stopped on exit.
#
# Usage: scripts/bench-serve.sh
#   N=100000 DISTINCT=20000 CONNECTIONS=32 DEADLINE=300 EXELOCK_BIN=path/to/exelock
#   CONFIGURATIONS="postgres-x2 sqlite-x1" (all optional; without EXELOCK_BIN the release binary
#   is built; CARGO_TARGET_DIR is honoured; CONFIGURATIONS picks which of the two to run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-100000}
DISTINCT=${DISTINCT:-20000}
CONNECTIONS=${CONNECTIONS:-32}
DEADLINE=${DEADLINE:-300}
CONFIGURATIONS=${CONFIGURATIONS:-postgres-x2 sqlite-x1}
TARGET_RATE=5000
TARGET_P99_MS=50
TARGET_RSS_MIB=128
SOURCES=(scc guardduty falco findings)

for tool in docker-registry skopeo openssl python3 sqlite3 curl; do
  command -v "$tool" >/dev/null || { echo "bench-serve: $tool is missing (scripts/test.sh installs the suite's tools)" >&2; exit 2; }
done
pg_bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -1 || true)
[ -n "$pg_bin" ] || { echo "bench-serve: PostgreSQL is missing (apt-get install postgresql)" >&2; exit 2; }

OHA=$(command -v oha || true)
if [ -z "$OHA" ]; then
  OHA=$ROOT/.tools/oha/bin/oha
  [ -x "$OHA" ] || cargo install oha --locked --root "$ROOT/.tools/oha"
fi

if [ -n "${EXELOCK_BIN:-}" ]; then
  BIN=$(realpath "$EXELOCK_BIN")
else
  cargo build --release --quiet --bin exelock
  BIN=$(realpath "${CARGO_TARGET_DIR:-target}")/release/exelock
fi
"$BIN" serve --help >/dev/null || { echo "bench-serve: $BIN has no serve command" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/exelock-serve-bench.XXXXXX")
pids=()
as_postgres=()
pg_data=
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$pg_data" ]; then
    "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # wait_http URL: until it answers 200 (30 s at most)
  local _
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench-serve: $1 did not come up" >&2
  return 1
}

# --- PostgreSQL on a loopback port, its socket and data in $WORK (as in scripts/test.sh) -------
mkdir -p pg
pg_password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$pg_password" >pg/password
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres: pg
  chmod 0755 "$WORK"
  as_postgres=(runuser -u postgres --)
fi
pg_port=$(free_port)
"${as_postgres[@]}" "$pg_bin/initdb" -D "$WORK/pg/data" -U exelock --pwfile="$WORK/pg/password" \
  --auth=scram-sha-256 -E UTF8 --no-locale >pg-initdb.log 2>&1 || { cat pg-initdb.log >&2; exit 1; }
pg_data=$WORK/pg/data
"${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -l "$WORK/pg/server.log" -w \
  -o "-k $WORK/pg -p $pg_port -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ||
  { cat "$WORK/pg/server.log" >&2; exit 1; }
PGPASSWORD=$pg_password "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U exelock exelock_bench
PG_URL=postgres://exelock:$pg_password@127.0.0.1:$pg_port/exelock_bench

# --- A local registry with three attested images ----------------------------------------------
registry_port=$(free_port)
REGISTRY=127.0.0.1:$registry_port
mkdir -p registry
cat >registry/config.yml <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry/storage
http:
  addr: $REGISTRY
  secret: exelock-bench
EOF
docker-registry serve registry/config.yml >registry/log 2>&1 &
pids+=($!)
wait_http "http://$REGISTRY/v2/"

export EXELOCK_PASSWORD=bench
"$BIN" generate-key-pair --output-key-prefix cosign >/dev/null 2>&1
IMAGES=(tiny traps demo)
for image in "${IMAGES[@]}"; do
  skopeo copy -q --dest-tls-verify=false "oci:$ROOT/testdata/images/$image" "docker://$REGISTRY/bench/$image:1"
  "$BIN" attest "$REGISTRY/bench/$image:1" --key cosign.key --push -q >/dev/null
  "$BIN" scan "$REGISTRY/bench/$image:1" -q -o "manifest-$image.json"
done

# --- Credentials of the four sources: a JWKS and a Google-shaped push token, keys, tokens ------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt.key 2>/dev/null
openssl rand -hex 32 >guardduty.key
openssl rand -hex 32 >falco.token
openssl rand -hex 32 >findings.token
openssl rand -hex 32 >read.token
AUDIENCE=https://exelock.bench/v1/scc
PUSH_ACCOUNT=scc-push@bench.iam.gserviceaccount.com

# --- The findings: DISTINCT/4 distinct bodies per source, one JSON document a line --------------
python3 - "$DISTINCT" "$REGISTRY" "$ROOT/testdata/findings" "$AUDIENCE" "$PUSH_ACCOUNT" "${IMAGES[@]}" <<'PY'
import base64, copy, json, random, subprocess, sys, time

distinct, registry, samples, audience, account = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
images = sys.argv[6:]
per_source = distinct // 4
rng = random.Random(12)

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

# JWKS of jwt.key, and one RS256 token as Pub/Sub signs them (valid for two hours).
modulus = subprocess.run(["openssl", "rsa", "-in", "jwt.key", "-noout", "-modulus"], capture_output=True, text=True, check=True).stdout
n = bytes.fromhex(modulus.strip().split("=", 1)[1])
json.dump({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "bench", "n": b64url(n), "e": "AQAB"}]}, open("jwks.json", "w"))
now = int(time.time())
header = b64url(json.dumps({"alg": "RS256", "kid": "bench", "typ": "JWT"}).encode())
claims = b64url(json.dumps({"iss": "https://accounts.google.com", "aud": audience, "email": account, "email_verified": True,
                            "sub": "1234567890", "iat": now, "exp": now + 7200}).encode())
signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", "jwt.key"], input=f"{header}.{claims}".encode(), capture_output=True, check=True).stdout
open("scc.jwt", "w").write(f"{header}.{claims}.{b64url(signature)}")

manifests = {image: json.load(open(f"manifest-{image}.json")) for image in images}

def binary(i):
    """An image, and one of its binaries: as built, relocated, modified in place, or foreign."""
    image = images[i % len(images)]
    manifest = manifests[image]
    exe = rng.choice(manifest["executables"])
    kind = i % 4
    path = exe["path"] if kind in (0, 2) else f"/tmp/run-{i % 89}/{exe['path'].rsplit('/', 1)[-1]}"
    sha = exe["sha256"] if kind in (0, 1) else f"{i:064x}"
    return image, manifest["image"]["manifestDigest"], path, sha, exe["size"]

scc_template = json.loads(base64.b64decode(json.load(open(f"{samples}/scc/pubsub-push.json"))["message"]["data"]))
def scc_finding(i, prefix):
    image, digest, path, sha, size = binary(i)
    notification = copy.deepcopy(scc_template)
    finding = notification["finding"]
    finding["name"] = f"organizations/1/sources/2/findings/{prefix}{i:08d}"
    finding["category"] = "Added Binary Executed"
    finding.pop("indicator", None)
    finding.pop("sourceProperties", None)
    finding["processes"] = [{"name": path.rsplit("/", 1)[-1], "binary": {"path": path, "sha256": sha, "size": str(size), "hashedSize": str(size), "partiallyHashed": False}, "args": [path], "pid": str(100 + i)}]
    container = {"name": "app", "uri": f"{registry}/bench/{image}:1", "imageId": f"{registry}/bench/{image}@{digest}"}
    finding["containers"] = [container]
    finding["kubernetes"]["pods"][0]["containers"] = [container]
    return notification

guardduty_template = json.load(open(f"{samples}/guardduty/eventbridge-new-binary-eks.json"))
def guardduty_event(i):
    image, _digest, path, sha, _size = binary(i)
    event = copy.deepcopy(guardduty_template)
    event["id"] = f"bench-event-{i}"
    detail = event["detail"]
    detail["id"] = f"bench{i:028x}"
    detail["arn"] = detail["arn"].rsplit("/", 1)[0] + "/" + detail["id"]
    reference = f"{registry}/bench/{image}:1"
    for container in detail["resource"]["kubernetesDetails"]["kubernetesWorkloadDetails"]["containers"]:
        container["image"] = reference
        container["imagePrefix"] = registry
    detail["resource"]["containerDetails"]["image"] = reference
    detail["resource"]["containerDetails"]["imagePrefix"] = registry
    runtime = detail["service"]["runtimeDetails"]
    runtime.pop("context", None)
    runtime["process"].pop("lineage", None)
    runtime["process"]["executablePath"] = path
    runtime["process"]["executableSha256"] = sha
    return event

falco_template = json.load(open(f"{samples}/falco/falcosidekick.json"))
def falco_post(i):
    image, _digest, path, _sha, _size = binary(i)
    post = copy.deepcopy(falco_template)
    post["uuid"] = f"6f0d3c1a-9b2e-4d8f-a7c5-{i:012x}"
    fields = post["output_fields"]
    fields["container.image.repository"] = f"{registry}/bench/{image}"
    fields["container.image.tag"] = "1"
    fields["proc.exe"] = fields["proc.exepath"] = path
    fields["proc.name"] = path.rsplit("/", 1)[-1]
    return post

bodies = {
    "scc": lambda i: {"message": {"data": base64.b64encode(json.dumps(scc_finding(i, "push")).encode()).decode(),
                                  "messageId": str(10**16 + i), "publishTime": "2026-12-01T10:00:00Z"},
                      "subscription": "projects/bench/subscriptions/exelock"},
    "guardduty": guardduty_event,
    "falco": falco_post,
    "findings": lambda i: scc_finding(i, "api")["finding"],
}
for source, make in bodies.items():
    with open(f"bodies-{source}.jsonl", "w") as out:
        for i in range(per_source):
            out.write(json.dumps(make(i), separators=(",", ":")) + "\n")
PY
DISTINCT=$(( DISTINCT / 4 * 4 ))

serve_flags=(--allow-registry "$REGISTRY" --allow-private-address 127.0.0.1/32 --key cosign.pub
  --scc-audience "$AUDIENCE" --scc-service-account "$PUSH_ACCOUNT" --scc-jwks "$WORK/jwks.json"
  --guardduty-api-key-file guardduty.key --falco-token-file falco.token
  --findings-token-file findings.token --read-token-file read.token)

declare -A PATH_OF=([scc]=/v1/scc [guardduty]=/v1/guardduty [falco]=/v1/falco [findings]=/v1/findings)
declare -A AUTH_OF=(
  [scc]="Authorization: Bearer $(cat scc.jwt)"
  [guardduty]="x-api-key: $(cat guardduty.key)"
  [falco]="Authorization: Bearer $(cat falco.token)"
  [findings]="Authorization: Bearer $(cat findings.token)"
)

# post BODIES SOURCE MODE PORT...: posts each line of BODIES to SOURCE's endpoint with its
# credentials, MODE "spread" (each body once, over the replicas in turn, 16 at a time) or "every"
# (each body to every replica, one at a time, e.g. to warm each replica's cache); prints how many
# were answered 200.
post() {
  local bodies=$1 source=$2 mode=$3
  shift 3
  python3 - "$bodies" "${PATH_OF[$source]}" "${AUTH_OF[$source]}" "$mode" "$@" <<'PY'
import concurrent.futures, http.client, sys, threading
bodies, path, auth, mode, ports = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
name, value = auth.split(": ", 1)
local = threading.local()
def post(item):
    port, body = item
    connections = local.__dict__.setdefault("connections", {})
    connection = connections.get(port) or connections.setdefault(port, http.client.HTTPConnection("127.0.0.1", int(port), timeout=60))
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json", name: value})
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        connections.pop(port, None)
        return 0
lines = [line.rstrip("\n") for line in open(bodies)]
if mode == "every":
    statuses = [post((port, line)) for port in ports for line in lines]
else:
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, [(ports[i % len(ports)], line) for i, line in enumerate(lines)]))
print(sum(status == 200 for status in statuses))
PY
}

results=()

# run_configuration NAME DB REPLICAS
run_configuration() {
  local name=$1 db=$2 replicas=$3
  local ports=() replica_pids=() port i source
  mkdir -p "$name"
  for i in $(seq "$replicas"); do
    port=$(free_port)
    "$BIN" serve --listen "127.0.0.1:$port" --db "$db" "${serve_flags[@]}" \
      >"$name/replica-$i.out" 2>"$name/replica-$i.err" &
    replica_pids+=($!)
    pids+=($!)
    ports+=("$port")
  done
  for port in "${ports[@]}"; do
    wait_http "http://127.0.0.1:$port/readyz"
  done

  # Warm the manifest cache: one finding about each image through each replica.
  local warm=0
  for source in "${SOURCES[@]}"; do
    head -n $(( ${#IMAGES[@]} * 3 )) "bodies-$source.jsonl" >"$name/warm-$source.jsonl"
    warm=$(( warm + $(post "$name/warm-$source.jsonl" "$source" every "${ports[@]}") ))
  done

  # The load: the four sources at once, each N/4 requests spread over the replicas.
  local start end
  start=$EPOCHREALTIME
  local oha_pids=()
  for source in "${SOURCES[@]}"; do
    : >"$name/urls-$source.txt"
    for port in "${ports[@]}"; do
      echo "http://127.0.0.1:$port${PATH_OF[$source]}" >>"$name/urls-$source.txt"
    done
    timeout "$DEADLINE" "$OHA" --no-tui --output-format quiet -n $(( N / 4 )) -c $(( CONNECTIONS / 4 + 1 )) \
      -t 10s -m POST -T application/json -H "${AUTH_OF[$source]}" -Z "bodies-$source.jsonl" \
      --urls-from-file --db-url "$name/oha-$source.db" "$name/urls-$source.txt" \
      >"$name/oha-$source.log" 2>&1 &
    oha_pids+=($!)
  done
  local failed=0
  for i in "${oha_pids[@]}"; do
    wait "$i" || failed=1
  done
  end=$EPOCHREALTIME
  [ "$failed" -eq 0 ] || echo "bench-serve: $name: an oha run failed or hit DEADLINE=${DEADLINE}s (see the logs)" >&2

  # Every distinct finding once more, so each must now be stored exactly once.
  local covered=0
  for source in "${SOURCES[@]}"; do
    covered=$(( covered + $(post "bodies-$source.jsonl" "$source" spread "${ports[@]}") ))
  done

  # The baseline, same run: the same replicas answering their cheapest route (/healthz: no body,
  # no judgement, no database) to the same load generator with the same request count and
  # connections. It is what HTTP on this machine costs, oha included: the ceiling for findings/s.
  : >"$name/urls-healthz.txt"
  for port in "${ports[@]}"; do
    echo "http://127.0.0.1:$port/healthz" >>"$name/urls-healthz.txt"
  done
  local baseline
  baseline=$(timeout "$DEADLINE" "$OHA" --no-tui --output-format json -n "$N" -c "$CONNECTIONS" -t 10s \
    --urls-from-file "$name/urls-healthz.txt" 2>/dev/null |
    python3 -c 'import json, sys; print(round(json.load(sys.stdin)["summary"]["requestsPerSec"]))' || echo "?")

  # Bytes the replicas wrote to disk per answered finding (an embedded SQLite writes from the
  # replica's own process; PostgreSQL's server does the writing, so there it is left out).
  local written=0
  for i in "${replica_pids[@]}"; do
    written=$(( written + $(awk '/^write_bytes:/ { print $2 }' "/proc/$i/io" 2>/dev/null || echo 0) ))
  done

  local rss=()
  for i in "${replica_pids[@]}"; do
    rss+=("$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$i/status" 2>/dev/null || echo "?")")
  done

  # Latency and answers of every load request, from oha's per-request records.
  local stats
  stats=$(python3 - "$name" "${SOURCES[@]}" <<'PY'
import sqlite3, sys
name, sources = sys.argv[1], sys.argv[2:]
durations, ok, total = [], 0, 0
for source in sources:
    try:
        rows = sqlite3.connect(f"{name}/oha-{source}.db").execute("SELECT duration, status FROM oha").fetchall()
    except sqlite3.Error:
        rows = []
    total += len(rows)
    ok += sum(status == 200 for _, status in rows)
    durations += [duration for duration, _ in rows]
durations.sort()
pick = lambda q: durations[min(len(durations) - 1, int(q * len(durations)))] * 1000 if durations else float("nan")
print(ok, total, f"{pick(0.50):.1f}", f"{pick(0.99):.1f}")
PY
  )
  local ok total p50 p99
  read -r ok total p50 p99 <<<"$stats"

  local counted
  if [[ $db == postgres://* ]]; then
    counted=$(psql "$db" -Atc "SELECT count(*), coalesce(sum(deliveries), 0) FROM findings" | tr '|' ' ')
  else
    counted=$(sqlite3 -separator ' ' "${db#sqlite:}" "SELECT count(*), coalesce(sum(deliveries), 0) FROM findings")
  fi
  local records deliveries
  read -r records deliveries <<<"$counted"

  for i in "${replica_pids[@]}"; do
    kill -TERM "$i" 2>/dev/null || true
    wait "$i" 2>/dev/null || true
  done

  local seconds rate
  seconds=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')
  rate=$(awk -v n="$ok" -v t="$seconds" 'BEGIN { printf "%.0f", n / t }')
  local per_finding=-
  if [[ $db != postgres://* ]]; then
    per_finding=$(awk -v w="$written" -v n="$(( ok + covered + warm ))" 'BEGIN { printf "%.1f", w / 1024 / n }')
  fi
  results+=("$name|$replicas|$ok/$total|$seconds|$rate|$baseline|$per_finding|$p50|$p99|${rss[*]}|$records/$DISTINCT|$deliveries/$(( ok + covered + warm ))")
}

case " $CONFIGURATIONS " in *" postgres-x2 "*) run_configuration "postgres-x2" "$PG_URL" 2 ;; esac
case " $CONFIGURATIONS " in *" sqlite-x1 "*) run_configuration "sqlite-x1" "sqlite:$WORK/sqlite-x1.db" 1 ;; esac

echo "== exelock serve: $N findings (4 sources, ${#IMAGES[@]} images, $DISTINCT distinct, the rest redeliveries), $(nproc) cores, $CONNECTIONS connections =="
printf '%-12s %8s %15s %8s %11s %11s %12s %8s %8s %16s %15s %19s\n' \
  configuration replicas "200/sent" seconds findings/s "healthz/s" "disk KiB/f" "p50 ms" "p99 ms" "peak RSS MiB" "records/distinct" "deliveries/200s"
verdict=PASS
for row in "${results[@]}"; do
  IFS='|' read -r name replicas answered seconds rate baseline per_finding p50 p99 rss records deliveries <<<"$row"
  printf '%-12s %8s %15s %8s %11s %11s %12s %8s %8s %16s %15s %19s\n' \
    "$name" "$replicas" "$answered" "$seconds" "$rate" "$baseline" "$per_finding" "$p50" "$p99" "$rss" "$records" "$deliveries"
  awk -v r="$rate" -v p="$p99" -v tr="$TARGET_RATE" -v tp="$TARGET_P99_MS" 'BEGIN { exit !(r >= tr && p < tp) }' || verdict=MISS
  for mib in $rss; do
    awk -v m="$mib" -v t="$TARGET_RSS_MIB" 'BEGIN { exit !(m + 0 < t) }' || verdict=MISS
  done
  [ "${records%/*}" = "${records#*/}" ] && [ "${deliveries%/*}" = "${deliveries#*/}" ] || verdict=MISS
done
echo "targets: >= $TARGET_RATE findings/s, p99 < $TARGET_P99_MS ms, peak RSS < $TARGET_RSS_MIB MiB per replica, records == distinct, deliveries == 200 answers: $verdict"
