#!/usr/bin/env bash
# Validates the deployment kit and the OpenAPI document with real parsers, as far as a machine
# without Docker or Kubernetes can:
#
#   tests/deploy_check.sh
#
# - every YAML file under deploy/ and schemas/openapi.yaml parses (PyYAML);
# - deploy/compose.yaml and deploy/compose.cluster.yaml validate against the Compose
#   specification (check-jsonschema);
# - the Kubernetes manifests (and the spool-drain Job template) validate strictly against the API
#   schemas (kubernetes-validate);
# - the gateway configs (compose, compose in cluster mode, the k8s ConfigMap) pass
#   `intake-gateway check-config`;
# - the HAProxy config of the cluster stack passes `haproxy -c`;
# - prometheus.yml, prometheus.cluster.yml and alerts.yml load in promtool, and the alert unit
#   tests pass;
# - the Grafana dashboard is JSON, uses the provisioned datasource, and its PromQL parses;
# - schemas/openapi.yaml is valid OpenAPI 3.1 (openapi-spec-validator, external $ref resolved);
# - the Dockerfile keeps what the runbook promises (non-root, volume, ports, healthcheck).
#
# Fails (never skips) when a tool is missing; the Python ones are installed with pip, promtool
# and haproxy come from Debian's `prometheus` and `haproxy` packages (tests/run.sh installs them).
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
haproxy="$(command -v haproxy || echo /usr/sbin/haproxy)"
[ -x "$haproxy" ] || fail "haproxy is needed: apt-get install -y haproxy (tests/run.sh does)"

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
def compose_file(path):
    compose = yaml.safe_load(open(path))
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                assert os.path.exists(os.path.join("deploy", src)), f"{path} {name}: {src} missing"
    return compose
compose = compose_file("deploy/compose.yaml")
gw = compose["services"]["gateway"]
assert gw["build"]["dockerfile"] == "deploy/Dockerfile"
(work / "compose.toml").write_text(open("deploy/compose/intake.toml").read())

# Compose in cluster mode: two replicas, each with its own data volume and instance id, the same
# Redis and key prefix; HAProxy mounts its config. Their env (minus secrets) goes to check-config.
cluster = compose_file("deploy/compose.cluster.yaml")
replicas = {n: s for n, s in cluster["services"].items() if n.startswith("gateway-")}
assert len(replicas) == 2, sorted(replicas)
data = [v for s in replicas.values() for v in s["volumes"] if v.endswith(":/var/lib/intake")]
assert len(set(data)) == 2, f"each replica needs its own data volume: {data}"
env = [s["environment"] for s in replicas.values()]
assert len({e["INTAKE__CLUSTER__INSTANCE_ID"] for e in env}) == 2, "instance ids must differ"
assert len({(e["INTAKE__CLUSTER__REDIS_URL"], e["INTAKE__CLUSTER__KEY_PREFIX"]) for e in env}) == 1
assert "redis" in cluster["services"] and "haproxy" in cluster["services"]
default = re.compile(r"[$][{]\w+:-([^}]*)[}]")  # ${VAR:-default} -> default
(work / "cluster.env").write_text("".join(
    f"{k}={default.sub(lambda m: m.group(1), v)}\n" for k, v in env[0].items()
    if k.startswith("INTAKE__CLUSTER__")))

# Kubernetes: kustomization lists existing files; the pod's probes use its named ports; the
# ConfigMap's TOML is extracted for check-config; the example Secret's keys are INTAKE__ names.
kust = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))
for r in kust["resources"]:
    assert os.path.exists(f"deploy/k8s/{r}"), f"kustomization: {r} missing"
    assert not r.endswith(".example.yaml"), f"placeholder secrets must not be applied: {r}"
assert "spool-drain-job.yaml" not in kust["resources"], "the drain Job is run by hand, once"
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
# Cluster mode: the Redis URL from its Secret by key, the instance id from the pod name.
redis_secret = yaml.safe_load(open("deploy/k8s/redis-secret.example.yaml"))
def redis_env(container):
    env = {e["name"]: e.get("valueFrom", {}) for e in container.get("env", [])}
    ref = env["INTAKE__CLUSTER__REDIS_URL"]["secretKeyRef"]
    assert ref["name"] == redis_secret["metadata"]["name"], ref
    assert ref["key"] in redis_secret["stringData"], ref
    return env
env = redis_env(c)
assert env["INTAKE__CLUSTER__INSTANCE_ID"]["fieldRef"]["fieldPath"] == "metadata.name"
assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
# The drain Job: the orphaned replica's PVC at /data, the gateway's config, spool drain.
job = yaml.safe_load(open("deploy/k8s/spool-drain-job.yaml"))
jpod = job["spec"]["template"]["spec"]
jc = jpod["containers"][0]
redis_env(jc)
assert jc["image"] == c["image"], "the drain runs the gateway's image"
assert jc["args"][:4] == ["spool", "drain", "--data-dir", "/data"], jc["args"]
claims = [v["persistentVolumeClaim"]["claimName"] for v in jpod["volumes"] if "persistentVolumeClaim" in v]
assert re.fullmatch(r"data-intake-gateway-\d+", claims[0]), claims
mounts = {m["mountPath"]: m["name"] for m in jc["volumeMounts"]}
assert mounts["/data"] == [v["name"] for v in jpod["volumes"] if "persistentVolumeClaim" in v][0]
assert "intake-gateway" not in job["spec"]["template"]["metadata"]["labels"].values(), \
    "the Services and the PDB must not select the drain pod"
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
# Extra KEY=VALUE arguments (the cluster settings) are passed to the gateway as well.
check_config() {
  local file="$1" what="$2"
  shift 2
  env $(sed 's/$/=check-config-placeholder-value/' "$work/secret.env" | grep -v AES_KEY) \
    INTAKE__CHANNELS__WECHAT__ACCOUNTS__HOTLINE__AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG \
    "$@" "$gateway" check-config --config "$file" >/dev/null 2>"$work/check.err" \
    || { cat "$work/check.err" >&2; fail "check-config rejects $what"; }
}
check_config "$work/compose.toml" "deploy/compose/intake.toml"
check_config "$work/compose.toml" "deploy/compose/intake.toml with the env of compose.cluster.yaml" \
  $(cat "$work/cluster.env")
check_config "$work/k8s.toml" "the ConfigMap in deploy/k8s/configmap.yaml" \
  INTAKE__CLUSTER__REDIS_URL=rediss://:placeholder@redis.example.internal:6380/0 \
  INTAKE__CLUSTER__INSTANCE_ID=intake-gateway-0
echo "  check-config: compose (single and cluster) and k8s configs OK"

step "compose files against the Compose specification"
check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml deploy/compose.cluster.yaml

step "HAProxy config of the cluster stack"
# Outside Docker the replicas' names do not resolve: the config starts them unresolved
# (init-addr none) and says so in warnings, which are expected here.
"$haproxy" -c -q -f deploy/haproxy/haproxy.cfg || fail "haproxy rejects deploy/haproxy/haproxy.cfg"
echo "  deploy/haproxy/haproxy.cfg OK"

step "Kubernetes manifests against the API schemas (strict)"
kubernetes-validate --strict --quiet \
  deploy/k8s/namespace.yaml deploy/k8s/configmap.yaml deploy/k8s/service.yaml \
  deploy/k8s/statefulset.yaml deploy/k8s/pdb.yaml deploy/k8s/secret.example.yaml \
  deploy/k8s/redis-secret.example.yaml deploy/k8s/spool-drain-job.yaml \
  || fail "a Kubernetes manifest does not validate"

step "Prometheus config, alert rules and their unit tests"
promtool check config deploy/prometheus/prometheus.yml
promtool check config deploy/prometheus/prometheus.cluster.yml
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
    'INTAKE__OPS__LISTEN=0.0.0.0:9090' 'MIMALLOC_PURGE_DELAY=100' 'HEALTHCHECK' '/healthz' 'cargo build --release --locked'; do
  grep -q -- "$want" "$df" || fail "$df lacks: $want"
done
[ -f deploy/Dockerfile.dockerignore ] || fail "deploy/Dockerfile.dockerignore missing (target/ would be sent as context)"
echo "  $df OK"

echo "deploy_check: all checks passed"
