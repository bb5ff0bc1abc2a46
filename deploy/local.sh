#!/usr/bin/env bash
# The stack of deploy/compose.yaml, run for real with podman on a machine that cannot pull
# from Docker Hub (CI's):
#   bash deploy/local.sh up      build what is missing, start the stack; returns once nginx
#                                answers /readyz on http://127.0.0.1:8080
#   bash deploy/local.sh smoke   drive the running stack through nginx (deploy/local/smoke.py)
#   bash deploy/local.sh down    remove what `up` started: containers, network, volumes
#   bash deploy/local.sh clean   `down`, then remove the images built here too (the next `up`
#                                builds everything again, as on a fresh machine)
#
# Images: a Debian bookworm made with debootstrap, then from it images of the shapes of Docker
# Hub's python:3.11-slim-bookworm, postgres:15, redis:7 and nginx (deploy/local/images/), and
# Parley's own from the Dockerfile on that Python. They stay in podman's store: later runs
# rebuild only what changed (podman's layer cache). deploy/local/compose.override.yaml swaps
# them in and lowers the containers' limits to what this machine grants; deploy/compose.yaml
# itself is what a Docker user runs.
#
# compose is Debian's docker-compose, talking to podman's Docker-compatible API (started for
# the length of each command, on a socket of its own). podman runs health checks from systemd
# timers, and there is no systemd here: while compose waits for a service to be healthy, this
# script runs the pending checks itself.
#
# Needs root, podman, debootstrap and docker-compose (scripts/bootstrap installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
# debootstrap, and what podman's networking runs (iptables), live in the sbin directories.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

project=parley-local
url=http://127.0.0.1:8080
images=localhost/parley-local
debian_image=$images/debian:bookworm
python_image=$images/python:3.11-slim-bookworm
parley_image=$images/parley:latest
mirror=${PARLEY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
host_ca_bundle=/etc/ssl/certs/ca-certificates.crt
state=${XDG_RUNTIME_DIR:-/tmp}/parley-local
started=$SECONDS

export COMPOSE_PROJECT_NAME=$project
export COMPOSE_FILE=deploy/compose.yaml:deploy/local/compose.override.yaml

say() { printf -- '-- %s (%ss)\n' "$*" "$((SECONDS - started))"; }
die() {
  printf 'deploy/local.sh: %s\n' "$*" >&2
  exit 1
}

background=()
scratch=""
cleanup() {
  for pid in "${background[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$scratch" ]; then rm -rf "$scratch"; fi
}
trap cleanup EXIT

require_tools() {
  [ "$(id -u)" -eq 0 ] || die "run me as root (debootstrap, and podman networks with fixed addresses)"
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v uv >/dev/null || missing+=(uv)
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (bash scripts/bootstrap installs them)"
}

# The secret key the stack runs with: made by `up`, read by `smoke` (tokens must outlive an
# instance's restart) and `down`.
load_secret_key() {
  mkdir -p "$state"
  if [ ! -s "$state/secret_key" ]; then
    (umask 077 && python3 -c "import secrets; print(secrets.token_urlsafe(48))" > "$state/secret_key")
  fi
  PARLEY_SECRET_KEY=$(cat "$state/secret_key")
  export PARLEY_SECRET_KEY
}

# podman's Docker-compatible API, for docker-compose, until this command exits.
start_engine() {
  local socket=$state/podman.sock
  mkdir -p "$state"
  rm -f "$socket"
  podman system service --time=0 "unix://$socket" > "$state/engine.log" 2>&1 &
  background+=($!)
  for _ in $(seq 100); do
    [ -S "$socket" ] && break
    sleep 0.1
  done
  [ -S "$socket" ] || die "podman's API did not start: $(cat "$state/engine.log")"
  export DOCKER_HOST=unix://$socket
}

# Runs the health checks of this stack's containers that are not yet healthy, every two
# seconds, until this command exits (compose's depends_on waits on them).
start_health_checks() {
  (
    while sleep 2; do
      for id in $(podman ps -q --filter "label=com.docker.compose.project=$project" \
        --filter health=starting --filter health=unhealthy 2>/dev/null); do
        podman healthcheck run "$id" > /dev/null 2>&1 || true
      done
    done
  ) &
  background+=($!)
}

build_debian_image() {
  # Made again only when this function changes (its text is the recipe).
  local recipe
  recipe=$(declare -f build_debian_image | sha256sum | cut -c1-16)
  if [ "$(podman image inspect --format '{{index .Labels "parley.local.recipe"}}' \
    "$debian_image" 2>/dev/null)" = "$recipe" ]; then
    return
  fi
  say "image $debian_image: debootstrap bookworm from $mirror (once; kept in podman's store)"
  scratch=$(mktemp -d /var/tmp/parley-local.XXXXXX)
  local rootfs=$scratch/rootfs
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$scratch/debootstrap.log" 2>&1; then
    tail -n 30 "$scratch/debootstrap.log" >&2
    die "debootstrap failed (above)"
  fi
  # As Docker Hub's Debian images: updates and security updates in the sources, no
  # recommended packages, no documentation or translations, no services started by
  # packages, and no package lists or archives left in the image.
  cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  cat > "$rootfs/etc/apt/apt.conf.d/90parley-local" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
EOF
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' > "$rootfs/etc/dpkg/dpkg.cfg.d/90parley-local"
  printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
  chmod +x "$rootfs/usr/sbin/policy-rc.d"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* "$rootfs"/dev/* "$rootfs"/tmp/*
  : > "$rootfs/etc/resolv.conf"
  tar --numeric-owner -C "$rootfs" -c . |
    podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "LABEL parley.local.recipe=$recipe" --change 'CMD ["bash"]' - "$debian_image" > /dev/null
  rm -rf "$scratch"
  scratch=""
}

# podman build, its output kept in a log shown only when the build fails.
build_image() { # TAG, then podman build's arguments
  local tag=$1 log
  shift
  log=$state/build-${tag//[\/:]/_}.log
  if ! podman build "${limits[@]}" --layers --pull=never --format docker -t "$tag" "$@" > "$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "building $tag failed (above; the whole output is in $log)"
  fi
}

build_images() {
  local base error
  mkdir -p "$state"
  build_debian_image
  # A container must start here before anything else is worth trying.
  if ! error=$(podman run --rm "${limits[@]}" "$debian_image" true 2>&1); then
    die "podman cannot start a container on this machine: $error"
  fi
  say "images: Python, PostgreSQL, Redis, nginx (from Debian's packages)"
  for base in python:3.11-slim-bookworm postgres:15 redis:7 nginx:bookworm; do
    build_image "$images/$base" --build-arg DEBIAN="$debian_image" \
      -f "deploy/local/images/${base%%:*}.Containerfile" deploy/local/images
  done
  say "image $parley_image: the Dockerfile, BASE=$python_image"
  # pip and uv fetch from PyPI through whatever the host trusts (a TLS-inspecting proxy's
  # certificate, say); the bundle is mounted for the build's steps, not copied into the image.
  local trust=()
  if [ -s "$host_ca_bundle" ]; then trust=(--volume "$host_ca_bundle:$host_ca_bundle:ro"); fi
  build_image "$parley_image" "${trust[@]}" --build-arg BASE="$python_image" -f Dockerfile .
}

wait_ready() { # SECONDS
  local deadline=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if python3 -c "import urllib.request; urllib.request.urlopen('$url/readyz', timeout=2)" 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  return 1
}

show_stack() {
  podman ps -a --filter "label=com.docker.compose.project=$project" \
    --format '{{.Names}}\t{{.Status}}' >&2 || true
  local id
  for id in $(podman ps -aq --filter "label=com.docker.compose.project=$project"); do
    printf '\n-- logs of %s\n' "$(podman inspect --format '{{.Name}}' "$id")" >&2
    podman logs --tail 15 "$id" >&2 2>&1 || true
  done
}

up() {
  require_tools
  build_images
  load_secret_key
  start_engine
  start_health_checks
  if podman network exists "${project}_default"; then
    # docker-compose cannot reuse a network podman made: it reads podman's account of its
    # IPAM settings as a change. The containers go, the volumes (the data) stay.
    say "taking the running stack down first (its volumes stay)"
    docker-compose down --remove-orphans --timeout 20
  fi
  say "starting the stack (project $project)"
  if ! timeout 600 docker-compose up -d --no-build; then
    show_stack
    die "the stack did not start (above)"
  fi
  if ! wait_ready 120; then
    show_stack
    die "nginx did not answer $url/readyz within 120 s"
  fi
  say "up: $url answers /readyz"
}

smoke() {
  require_tools
  [ -s "$state/secret_key" ] || die "no stack to smoke: run \`bash deploy/local.sh up\` first"
  load_secret_key
  start_engine
  start_health_checks
  say "smoke: through nginx at $url"
  if ! uv run --frozen python deploy/local/smoke.py "$url"; then
    show_stack
    die "smoke failed (above)"
  fi
  say "smoke: passed"
}

down() {
  require_tools
  load_secret_key
  start_engine
  say "removing the stack's containers, network and volumes"
  docker-compose down --volumes --remove-orphans --timeout 20 || true
  # Whatever compose did not know about (a container left by an interrupted run).
  local leftovers volume
  mapfile -t leftovers < <(podman ps -aq --filter "label=com.docker.compose.project=$project")
  if [ ${#leftovers[@]} -gt 0 ]; then podman rm -f --volumes "${leftovers[@]}" > /dev/null; fi
  for volume in $(podman volume ls -q --filter "label=com.docker.compose.project=$project"); do
    podman volume rm -f "$volume" > /dev/null
  done
  podman network rm -f "${project}_default" > /dev/null 2>&1 || true
  rm -rf "$state"
  say "down"
}

clean() {
  down
  say "removing the images built here"
  local image
  for image in "$parley_image" "$images/nginx:bookworm" "$images/redis:7" "$images/postgres:15" \
    "$python_image" "$debian_image"; do
    podman rmi -f "$image" > /dev/null 2>&1 || true
  done
  # The build cache's layers: every image built here descends from the Debian one, whose
  # label they carry.
  podman image prune -f --filter label=parley.local.recipe > /dev/null
}

case "${1:-}" in
  up) up ;;
  smoke) smoke ;;
  down) down ;;
  clean) clean ;;
  *) die "usage: bash deploy/local.sh up | smoke | down | clean" ;;
esac
