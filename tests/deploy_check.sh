#!/usr/bin/env bash
# Validates the deployment kit and the OpenAPI document with real parsers, as far as a machine
# without Docker or Kubernetes can:
#
#   tests/deploy_check.sh
#
# - every YAML file under deploy/ and schemas/openapi.yaml parses (PyYAML);
# - deploy/compose.yaml validates against the Compose specification (check-jsonschema);
# - the Kubernetes manifests validate strictly against the API schemas (kubernetes-validate);
# - the gateway configs (compose and the k8s ConfigMap) pass `intake-gateway check-config`;
# - prometheus.yml and alerts.yml load in promtool, and the alert unit tests pass;
# - the Grafana dashboard is JSON, uses the provisioned datasource, and its PromQL parses;
# - schemas/openapi.yaml is valid OpenAPI 3.1 (openapi-spec-validator, external $ref resolved);
# - the Dockerfile keeps what the runbook promises (non-root, volume, ports, healthcheck).
#
# Fails (never skips) when a tool is missing; the Python ones are installed with pip, promtool
# comes from Debian's `prometheus` package (tests/run.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "deploy_check: FAIL: $*" >&2; exit 1; }
step() { echo "==> $*"; }

step "python tools"
python3 -m pip install --quiet --disable-pip-version-check \
  'PyYAML>=6' 'openapi-spec-validator==0.9.0' 'kubernetes-validate==1.37.0' 'check-jsonschema==0.39.0' \
  >/dev/null 2>&1 || true
python3 -c 'import yaml, openapi_spec_validator' || fail "PyYAML and openapi-spec-validator are needed (pip install)"
command -v kubernetes-validate >/dev/null || fail "kubernetes-validate is needed (pip install kubernetes-validate)"
command -v check-jsonschema >/dev/null || fail "check-jsonschema is needed (pip install check-jsonschema)"
command -v promtool >/dev/null || fail "promtool is needed: apt-get install -y prometheus (tests/run.sh does)"

step "the gateway binary, for check-config"
cargo build --quiet --locked --bin intake-gateway
gateway="${CARGO_TARGET_DIR:-target}/debug/intake-gateway"
[ -x "$gateway" ] || fail "no $gateway after cargo build"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step "YAML parses, manifests are well formed, configs pass check-config"
python3 - "$work" <<'PY'
import glob, json, os, pathlib, re, sys
import yaml

work = pathlib.Path(sys.argv[1])
files = sorted(glob.glob("deploy/**/*.y*ml", recursive=True)) + ["schemas/openapi.yaml"]
for f in files:
    docs = [d for d in yaml.safe_load_all(open(f, encoding="utf-8")) if d is not None]
    assert docs, f"{f}: empty"
print(f"  {len(files)} YAML files parse")

# Compose: every file it mounts exists; the gateway's config passes check-config with its env.
compose = yaml.safe_load(open("deploy/compose.yaml"))
for name, svc in compose["services"].items():
    for vol in svc.get("volumes", []):
        src = vol.split(":")[0]
        if src.startswith("."):
            assert os.path.exists(os.path.join("deploy", src)), f"compose {name}: {src} missing"
gw = compose["services"]["gateway"]
assert gw["build"]["dockerfile"] == "deploy/Dockerfile"
(work / "compose.toml").write_text(open("deploy/compose/intake.toml").read())

# Kubernetes: kustomization lists existing files; the pod's probes use its named ports; the
# ConfigMap's TOML is extracted for check-config; the example Secret's keys are INTAKE__ names.
kust = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))
for r in kust["resources"]:
    assert os.path.exists(f"deploy/k8s/{r}"), f"kustomization: {r} missing"
assert "secret.example.yaml" not in kust["resources"], "placeholder secrets must not be applied"
sts = yaml.safe_load(open("deploy/k8s/statefulset.yaml"))
pod = sts["spec"]["template"]["spec"]
c = pod["containers"][0]
ports = {p["name"] for p in c["ports"]}
for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
    assert c[probe]["httpGet"]["port"] in ports, probe
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert any(v["mountPath"] == "/var/lib/intake" for v in c["volumeMounts"])
assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
cm = yaml.safe_load(open("deploy/k8s/configmap.yaml"))
(work / "k8s.toml").write_text(cm["data"]["intake.toml"])
secret = yaml.safe_load(open("deploy/k8s/secret.example.yaml"))
for key in secret["stringData"]:
    assert re.fullmatch(r"INTAKE__[A-Z0-9_]+", key), key
(work / "secret.env").write_text("\n".join(secret["stringData"]) + "\n")
print("  compose and k8s references resolve")

# Grafana: every panel on the provisioned datasource; PromQL collected for promtool.
ds = yaml.safe_load(open("deploy/grafana/provisioning/datasources/prometheus.yml"))["datasources"][0]
dash = json.load(open("deploy/grafana/dashboards/intake.json"))
ids, exprs = set(), []
for p in dash["panels"]:
    assert p["id"] not in ids, f"duplicate panel id {p['id']}"
    ids.add(p["id"])
    if p["type"] == "row":
        continue
    assert p["datasource"]["uid"] == ds["uid"], p["title"]
    for t in p["targets"]:
        exprs.append(re.sub(r"\$\{?\w+\}?", ".*", t["expr"]))
rules = {"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)]}]}
(work / "dashboard-rules.yml").write_text(yaml.safe_dump(rules))
print(f"  dashboard: {len(ids)} panels, {len(exprs)} queries")
PY

# A secret from the example, so that the partner and account sections are checked enabled too.
check_config() {
  local file="$1"
  env $(sed 's/$/=check-config-placeholder-value/' "$work/secret.env" | grep -v AES_KEY) \
    INTAKE__CHANNELS__WECHAT__ACCOUNTS__HOTLINE__AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG \
    "$gateway" check-config --config "$file" >/dev/null 2>"$work/check.err" \
    || { cat "$work/check.err" >&2; fail "check-config rejects $2"; }
}
check_config "$work/compose.toml" "deploy/compose/intake.toml"
check_config "$work/k8s.toml" "the ConfigMap in deploy/k8s/configmap.yaml"
echo "  check-config: compose and k8s configs OK"

step "compose file against the Compose specification"
check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml

step "Kubernetes manifests against the API schemas (strict)"
kubernetes-validate --strict --quiet \
  deploy/k8s/namespace.yaml deploy/k8s/configmap.yaml deploy/k8s/service.yaml \
  deploy/k8s/statefulset.yaml deploy/k8s/pdb.yaml deploy/k8s/secret.example.yaml \
  || fail "a Kubernetes manifest does not validate"

step "Prometheus config, alert rules and their unit tests"
promtool check config deploy/prometheus/prometheus.yml
promtool test rules deploy/prometheus/alerts.test.yml
promtool check rules "$work/dashboard-rules.yml" >/dev/null || fail "a dashboard query does not parse"
echo "  dashboard queries parse"

step "OpenAPI 3.1"
python3 - <<'PY'
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
spec, url = read_from_filename("schemas/openapi.yaml")
validate(spec, base_uri=url)
print(f"  schemas/openapi.yaml: valid, {len(spec['paths'])} paths")
PY

step "Dockerfile promises"
df=deploy/Dockerfile
for want in 'FROM rust:1-bookworm AS build' 'FROM debian:bookworm-slim' 'cmake' 'USER 10001:10001' \
    'VOLUME \["/var/lib/intake"\]' 'EXPOSE 8080 9090' 'INTAKE__SERVER__LISTEN=0.0.0.0:8080' \
    'INTAKE__OPS__LISTEN=0.0.0.0:9090' 'HEALTHCHECK' '/healthz' 'cargo build --release --locked'; do
  grep -q -- "$want" "$df" || fail "$df lacks: $want"
done
[ -f deploy/Dockerfile.dockerignore ] || fail "deploy/Dockerfile.dockerignore missing (target/ would be sent as context)"
echo "  $df OK"

echo "deploy_check: all checks passed"
