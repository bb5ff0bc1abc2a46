#!/usr/bin/env bash
# Check the deployment artefacts with what runs without a Docker engine:
#   1. the compose file, with Debian's docker-compose (`config` validates offline);
#   2. the nginx config, with `nginx -t` (service names replaced by 127.0.0.1, since nothing
#      resolves them here);
#   3. the Dockerfile's build steps, run as a script in a scratch directory, and the result
#      started: the installed `parley` migrates a SQLite file and answers /healthz;
#   4. client addresses: the instances trust X-Forwarded-For from nginx's fixed address alone
#      (a valid PARLEY_TRUSTED_PROXIES, no FORWARDED_ALLOW_IPS), and nginx sets that header
#      from $remote_addr rather than appending to the client's.
# The image built and the containers run: deploy/local.sh (with podman; also in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "-- compose: docker-compose config"
PARLEY_SECRET_KEY=validate-only docker-compose -f deploy/compose.yaml config --quiet

echo "-- nginx: nginx -t"
mkdir -p "$scratch/nginx/logs"
sed -e 's/server app[12]:8000/server 127.0.0.1:8000/' deploy/nginx.conf > "$scratch/nginx/nginx.conf"
nginx -t -q -p "$scratch/nginx" -c "$scratch/nginx/nginx.conf" -g "pid $scratch/nginx/nginx.pid; error_log stderr;"

echo "-- image: the Dockerfile's build steps"
image="$scratch/app"
mkdir -p "$image"
cp pyproject.toml uv.lock README.md "$image/"
(cd "$image" && UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy uv sync --quiet --frozen --no-default-groups --no-install-project)
cp -r src "$image/src"
(cd "$image" && UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy uv sync --quiet --frozen --no-default-groups --no-editable)
rm -rf "$image/src"  # the final stage copies only the virtual environment
for group_module in pytest taskiq; do  # the dev and bench groups: never in the image
  if "$image/.venv/bin/python" -c "import $group_module" 2>/dev/null; then
    echo "a development dependency ($group_module) leaked into the image" >&2
    exit 1
  fi
done
echo "-- client addresses: X-Forwarded-For only from nginx, which sets it"
PARLEY_SECRET_KEY=validate-only docker-compose -f deploy/compose.yaml config > "$scratch/compose.yaml"
"$image/.venv/bin/python" - "$scratch/compose.yaml" deploy/nginx.conf <<'PY'
import ipaddress, json, re, sys

import yaml
from parley.core.settings import Settings

compose_path, nginx_path = sys.argv[1:]
services = yaml.safe_load(open(compose_path))["services"]
nginx = ipaddress.ip_address(services["nginx"]["networks"]["default"]["ipv4_address"])
for name, service in services.items():
    env = service.get("environment") or {}
    if "FORWARDED_ALLOW_IPS" in env:
        sys.exit(f"{name}: FORWARDED_ALLOW_IPS is not read by Parley; use PARLEY_TRUSTED_PROXIES")
    if name.startswith("app"):
        proxies = Settings(trusted_proxies=json.loads(env["PARLEY_TRUSTED_PROXIES"])).trusted_proxies
        if proxies != [ipaddress.ip_network(nginx)]:
            sys.exit(f"{name}: PARLEY_TRUSTED_PROXIES must name nginx ({nginx}) alone: {proxies}")
headers = re.findall(r"X-Forwarded-For\s+(\S+);", open(nginx_path).read())
if not headers or set(headers) != {"$remote_addr"}:
    sys.exit(f"nginx must set X-Forwarded-For to $remote_addr, not {headers}")
PY
data="$scratch/data"
port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
env -i PATH="$image/.venv/bin:/usr/bin:/bin" PARLEY_DATA_DIR="$data" HOME="$scratch" \
  "$image/.venv/bin/parley" serve --port "$port" > "$scratch/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
status=0
python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=2)" || status=1
kill "$server"; wait "$server" 2>/dev/null || true
if [ "$status" -ne 0 ]; then cat "$scratch/serve.log" >&2; exit 1; fi
echo "deployment artefacts: ok"
