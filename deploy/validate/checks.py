"""Consistency checks of the deployment files against each other and the server.

Run by scripts/validate-deploy.sh (which also runs the schema validators and
linters). Subcommands:

  static                  every check below; exit 1 with one line per problem
  script FILE [NAME]      print the shell script a Job/CronJob container runs
  scripts DIR             write every such script to DIR for shellcheck

The schemas say a file is well-formed; these say it is right for GoOnline:
flags and variables the binary really has, probes on routes it serves, the
balancer and compose nodes agreeing, the dashboard querying metrics the
server renders, the Kubernetes objects referring to each other correctly.
"""

import json
import re
import shlex
import sys
from pathlib import Path

import yaml

from server_cli import check_env_names, check_invocation, read_server_cli

ROOT = Path(__file__).resolve().parents[2]
K8S_DIRS = [ROOT / "deploy/k8s", ROOT / "deploy/restore"]
# The server's drain after SIGTERM, worst case: flush 20 s, sockets 10 s,
# HTTP server 5 s, final flush 20 s (server/src/app.rs, serve()).
DRAIN_SECS = 55


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML keeps the last)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=deep))


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(path: Path):
    """Every document of a YAML file (duplicate keys are an error)."""
    return [d for d in yaml.load_all(path.read_text(), Loader=UniqueKeyLoader) if d is not None]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def is_goonline_image(image: str) -> bool:
    """`goonline:local`, `registry.example.com/goonline:0.1.0`, ..."""
    return image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0] == "goonline"


# ---------------------------------------------------------------- Dockerfile


def check_dockerfile(cli, problems):
    path = ROOT / "Dockerfile"
    text = re.sub(r"\\\n", " ", path.read_text())
    final = text.split("\nFROM ")[-1]  # the runtime stage
    entry = cmd = None
    for line in final.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENTRYPOINT":
            entry = json.loads(rest)
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "ENV":
            names = [kv.split("=", 1)[0] for kv in shlex.split(rest)]
            problems += check_env_names(cli, names, "Dockerfile ENV")
        elif word == "USER" and rest.split(":")[0] in ("0", "root"):
            problems.append("Dockerfile: the runtime stage runs as root")
    if entry != ["goonline"] or not cmd:
        problems.append("Dockerfile: expected ENTRYPOINT [\"goonline\"] and a CMD")
        return
    problems += check_invocation(cli, cmd, "Dockerfile CMD")
    for needed in ("HEALTHCHECK", "EXPOSE 8080", "USER ", "VOLUME"):
        if needed not in final:
            problems.append(f"Dockerfile: the runtime stage has no {needed.strip()}")
    if "/readyz" not in final and "/healthz" not in final:
        problems.append("Dockerfile: HEALTHCHECK does not query /readyz or /healthz")


# ------------------------------------------------------ compose and balancer


def check_compose(cli, problems):
    path = ROOT / "docker-compose.yml"
    [compose] = load_yaml(path)
    services = compose.get("services", {})
    nodes = {n: s for n, s in services.items() if is_goonline_image(s.get("image", ""))}
    where = rel(path)
    if len(nodes) < 3:
        problems.append(f"{where}: {len(nodes)} goonline nodes, expected at least 3")
    for name in ("postgres", "redis"):
        if name not in services:
            problems.append(f"{where}: no `{name}` service")
    for name, svc in services.items():
        if "healthcheck" not in svc:
            problems.append(f"{where}: service {name} has no healthcheck")
    signatures = set()
    for name, svc in nodes.items():
        command = svc.get("command", [])
        if isinstance(command, str):
            command = shlex.split(command)
        problems += check_invocation(cli, command, f"{where} {name}")
        env = svc.get("environment", {})
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        problems += check_env_names(cli, env, f"{where} {name}")
        args = " ".join(map(str, command))
        if "--database-url postgres://" not in args and "GOONLINE_DATABASE_URL" not in env:
            problems.append(f"{where}: {name} does not use Postgres")
        if "--redis-url" not in args and "GOONLINE_REDIS_URL" not in env:
            problems.append(f"{where}: {name} has no Redis bus (--redis-url)")
        if "GOONLINE_JWT_SECRET" not in env and "--jwt-secret" not in args:
            problems.append(f"{where}: {name} has no shared signing secret")
        if "0.0.0.0:8080" not in args:
            problems.append(f"{where}: {name} does not listen on 0.0.0.0:8080")
        deps = svc.get("depends_on", {})
        for dep in ("postgres", "redis"):
            cond = deps.get(dep, {}).get("condition") if isinstance(deps, dict) else None
            if cond != "service_healthy":
                problems.append(f"{where}: {name} does not wait for {dep} to be healthy")
        if svc.get("ports"):
            problems.append(f"{where}: {name} publishes ports; clients go through the balancer")
        signatures.add(json.dumps([command, env], sort_keys=True))
    if len(signatures) > 1:
        problems.append(f"{where}: the nodes differ in command or environment")
    lbs = [n for n, s in services.items() if "haproxy" in s.get("image", "")]
    if len(lbs) != 1:
        problems.append(f"{where}: expected one HAProxy balancer service, found {lbs}")
        return
    lb = services[lbs[0]]
    deps = lb.get("depends_on", {})
    for node in nodes:
        if not isinstance(deps, dict) or deps.get(node, {}).get("condition") != "service_healthy":
            problems.append(f"{where}: the balancer does not wait for {node} to be healthy")
    check_haproxy(nodes, problems)


def check_haproxy(nodes, problems):
    path = ROOT / "deploy/haproxy/haproxy.cfg"
    where = rel(path)
    lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    servers = {ln.split()[1]: ln.split()[2] for ln in lines if ln.startswith("server ")}
    for node in nodes:
        if servers.get(node) != f"{node}:8080":
            problems.append(f"{where}: no `server {node} {node}:8080` line")
    for extra in set(servers) - set(nodes):
        problems.append(f"{where}: server {extra} is not a compose node")
    for needed in ("balance roundrobin", "option httpchk",
                   "http-check send meth GET uri /readyz", "http-check expect status 200"):
        if needed not in lines:
            problems.append(f"{where}: missing `{needed}`")
    if not any(ln.startswith("timeout tunnel") for ln in lines):
        problems.append(f"{where}: no `timeout tunnel` (WebSockets would be cut)")
    for ln in lines:
        if ln.split()[0] in ("cookie", "stick", "stick-table") or ln in ("balance source",):
            problems.append(f"{where}: `{ln}`: no sticky sessions (any node serves any doc)")


# ---------------------------------------------------------------- Kubernetes


def k8s_objects():
    objs = []
    for d in K8S_DIRS:
        for path in sorted(d.glob("*.yaml")):
            for doc in load_yaml(path):
                objs.append((path, doc))
    return objs


def pod_spec(obj):
    spec = obj.get("spec", {})
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return spec.get("template", {}).get("spec")
    if kind == "CronJob":
        return spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
    return None


def check_k8s(cli, problems):
    objs = k8s_objects()
    if not objs:
        problems.append("deploy/k8s: no manifests")
        return
    by_kind = {}
    for path, o in objs:
        by_kind.setdefault(o.get("kind"), {})[o["metadata"]["name"]] = (path, o)
    secrets = {n: {**o.get("data", {}), **o.get("stringData", {})}
               for n, (_, o) in by_kind.get("Secret", {}).items()}
    configmaps = {n: o.get("data", {}) for n, (_, o) in by_kind.get("ConfigMap", {}).items()}
    pvcs = set(by_kind.get("PersistentVolumeClaim", {}))
    hand_made = {"goonline-restore"}  # created by hand (deploy/restore/pg-restore-job.yaml)
    for path, o in objs:
        where = f"{rel(path)} {o['kind']}/{o['metadata']['name']}"
        spec = pod_spec(o)
        if spec is None:
            continue
        for c in spec.get("containers", []):
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in hand_made and ref["key"] not in secrets.get(ref["name"], {}):
                    problems.append(f"{where}: secret {ref['name']}/{ref['key']} is not defined")
            for src in c.get("envFrom", []):
                name = src.get("configMapRef", {}).get("name")
                if name and name not in configmaps:
                    problems.append(f"{where}: ConfigMap {name} is not defined")
                elif name and is_goonline_image(c["image"]):
                    problems += check_env_names(cli, configmaps[name], f"{where} ConfigMap {name}")
            if is_goonline_image(c["image"]):
                problems += check_goonline_container(cli, spec, c, where)
        for v in spec.get("volumes", []):
            claim = v.get("persistentVolumeClaim", {}).get("claimName")
            if claim and claim not in pvcs:
                problems.append(f"{where}: PersistentVolumeClaim {claim} is not defined")
    deployments = by_kind.get("Deployment", {})
    for kind in ("Service", "PodDisruptionBudget"):
        for name, (path, o) in by_kind.get(kind, {}).items():
            sel = o["spec"]["selector"]
            sel = sel.get("matchLabels", sel) if kind == "PodDisruptionBudget" else sel
            if not any(sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()
                       for _, d in deployments.values()):
                problems.append(f"{rel(path)} {kind}/{name}: selector matches no Deployment's pods")
    for name, (path, o) in by_kind.get("HorizontalPodAutoscaler", {}).items():
        target = o["spec"]["scaleTargetRef"]
        if target["name"] not in deployments:
            problems.append(f"{rel(path)} HPA/{name}: targets unknown {target['name']}")
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                 "Secret", "ConfigMap", "CronJob", "PersistentVolumeClaim"):
        if kind not in by_kind:
            problems.append(f"deploy/k8s: no {kind}")


def check_goonline_container(cli, spec, c, where):
    problems = []
    if c.get("command"):
        problems.append(f"{where}: overrides the image's goonline entrypoint")
    problems += check_invocation(cli, c.get("args", []), where)
    problems += check_env_names(cli, [e["name"] for e in c.get("env", [])], where)
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                        ("startupProbe", None)):
        p = c.get(probe)
        if p is None:
            problems.append(f"{where}: no {probe}")
            continue
        got = p.get("httpGet", {}).get("path")
        if got not in cli.routes or (path and got != path):
            problems.append(f"{where}: {probe} on {got}, expected {path or 'a served route'}")
        port = p.get("httpGet", {}).get("port")
        if port not in ports and port not in ports.values():
            problems.append(f"{where}: {probe} port {port} is not a container port")
    pre = c.get("lifecycle", {}).get("preStop", {})
    cmd = pre.get("exec", {}).get("command", [])
    sleep = int(cmd[1]) if cmd[:1] == ["sleep"] else pre.get("sleep", {}).get("seconds", 0)
    if not sleep:
        problems.append(f"{where}: no preStop sleep (endpoints must drop the pod before SIGTERM)")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace < sleep + DRAIN_SECS:
        problems.append(f"{where}: terminationGracePeriodSeconds {grace} < preStop {sleep} s "
                        f"+ drain {DRAIN_SECS} s")
    sc = c.get("securityContext", {})
    if not (spec.get("securityContext", {}).get("runAsNonRoot") and sc.get("readOnlyRootFilesystem")
            and sc.get("allowPrivilegeEscalation") is False):
        problems.append(f"{where}: must run non-root, read-only root fs, no privilege escalation")
    if "cpu" not in c.get("resources", {}).get("requests", {}):
        problems.append(f"{where}: no CPU request (the autoscaler measures against it)")
    return problems


def check_rollout(problems):
    for path, o in k8s_objects():
        if o.get("kind") == "Deployment" and o["metadata"]["name"] == "goonline":
            ru = o["spec"].get("strategy", {}).get("rollingUpdate", {})
            if ru.get("maxUnavailable") != 0:
                problems.append(f"{rel(path)}: rolling update must have maxUnavailable 0")


# ------------------------------------------------------------------ Grafana


def rendered_metrics():
    src = (ROOT / "engine/src/metrics.rs").read_text()
    names = set(re.findall(r'"(goonline_[a-z0-9_]+)"', src))
    histograms = set(re.findall(r'\.render\(\s*"(goonline_[a-z0-9_]+)"', src))
    series = set(names)
    for h in histograms:
        series |= {h + s for s in ("_bucket", "_sum", "_count")}
    return names, series


def check_grafana(problems, notes):
    names, series = rendered_metrics()
    if not names:
        problems.append("engine/src/metrics.rs: no goonline_* metric names found")
    for path in sorted((ROOT / "deploy/grafana").glob("*.json")):
        where = rel(path)
        try:
            dash = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not JSON: {e}")
            continue
        for key in ("uid", "title", "panels", "schemaVersion"):
            if key not in dash:
                problems.append(f"{where}: no `{key}`")
        ids = [p.get("id") for p in dash.get("panels", [])]
        if len(ids) != len(set(ids)):
            problems.append(f"{where}: duplicate panel ids")
        used = set()
        exprs = [t.get("expr", "") for p in dash.get("panels", []) for t in p.get("targets", [])]
        for v in dash.get("templating", {}).get("list", []):
            q = v.get("query")
            exprs.append(q.get("query", "") if isinstance(q, dict) else str(q or ""))
        for p in dash.get("panels", []):
            if p.get("type") != "row" and not p.get("targets"):
                problems.append(f"{where}: panel {p.get('title')!r} has no query")
        for e in exprs:
            for m in re.findall(r"\bgoonline_[a-z0-9_]+", e):
                used.add(m)
                if m not in series:
                    problems.append(f"{where}: queries {m}, which the server does not render")
        unused = sorted(n for n in names if not any(u.startswith(n) for u in used))
        if unused:
            notes.append(f"{where}: metrics not on the dashboard: {', '.join(unused)}")


# --------------------------------------------------------------------- docs


def check_docs(cli, problems):
    """`goonline <subcommand> --flags` written in the deployment docs exist."""
    for name in ("docs/deploy.md", "docs/scaling.md"):
        path = ROOT / name
        if not path.exists():
            problems.append(f"{name}: missing")
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in re.finditer(r"\bgoonline ((?:serve|backup|restore|user)\b[^`|\n]*)", line):
                args = [a for a in m.group(1).split() if re.match(r"^[a-z-]+$|^--", a)]
                problems += check_invocation(cli, args, f"{name}:{n}")


# -------------------------------------------------------------- embedded sh


def job_scripts():
    """(file, container, script) for every container run as `sh -c SCRIPT`."""
    for path, o in k8s_objects():
        spec = pod_spec(o)
        for c in (spec or {}).get("containers", []):
            if c.get("command", [])[-1:] == ["-c"] and c.get("args"):
                yield path, c["name"], c["args"][0]


def main(argv):
    if argv[:1] == ["script"]:
        for path, name, script in job_scripts():
            if path.name == argv[1] and (len(argv) < 3 or name == argv[2]):
                sys.stdout.write(script)
                return 0
        print(f"no script in {argv[1]}", file=sys.stderr)
        return 1
    if argv[:1] == ["scripts"]:
        out = Path(argv[1])
        for path, name, script in job_scripts():
            (out / f"{path.stem}.{name}.sh").write_text("#!/bin/sh\n" + script)
        return 0
    if argv[:1] != ["static"]:
        print(__doc__, file=sys.stderr)
        return 2
    cli = read_server_cli(ROOT / "server/src")
    problems, notes = [], []
    for check in (check_dockerfile, check_compose, check_k8s, check_docs):
        try:
            check(cli, problems)
        except Exception as e:  # a malformed file is a problem, not a crash
            problems.append(f"{check.__name__}: {type(e).__name__}: {e}")
    check_rollout(problems)
    check_grafana(problems, notes)
    for n in notes:
        print(f"note: {n}")
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
