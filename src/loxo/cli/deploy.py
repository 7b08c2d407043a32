"""``loxo deploy --dry-run kubernetes``: the manifests of a whole loxo on Kubernetes.

Prints YAML documents to pipe into ``kubectl apply -f -``: a namespace; a secret with
the database password and the object store's keys (random, made now); PostgreSQL (a
StatefulSet with its volume); an S3-compatible object store (SeaweedFS, one StatefulSet);
the loxo server (a Deployment and a Service, ``loxo serve --db ... --storage ...
--executor ...``); and the cluster that runs datums: a KubeRay ``RayCluster`` (needs
the KubeRay operator) or a ``DaskCluster`` (needs the Dask Kubernetes operator), whose
pods run the same loxo image and reach the database and the object store themselves.
Only ``--dry-run`` exists: loxo never talks to the Kubernetes API.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import typer
import yaml

from loxo.errors import InvalidArgument

Manifest = dict[str, Any]
SEAWEEDFS_IMAGE = "chrislusf/seaweedfs:4.48"
POSTGRES_IMAGE = "postgres:17"
BUCKET = "loxo"


@dataclass(frozen=True)
class Plan:
    """What the manifests are made for."""

    namespace: str = "loxo"
    image: str = "loxo:0.1.0"
    engine: str = "ray"  # ray, dask or local
    workers: int = 2
    worker_cpu: str = "2"
    worker_memory: str = "4Gi"
    storage: str = "20Gi"
    db_password: str = "change-me"
    s3_key: str = "loxo"
    s3_secret: str = "change-me"

    def meta(self, name: str, **labels: str) -> dict[str, Any]:
        return {"name": name, "namespace": self.namespace,
                "labels": {"app.kubernetes.io/part-of": "loxo", "app.kubernetes.io/name": name, **labels}}

    @property
    def executor(self) -> str:
        return {"ray": "ray://loxo-ray-head-svc:10001", "dask": "dask://loxo-dask-scheduler:8786",
                "local": "local"}[self.engine]


def _env(plan: Plan) -> list[dict[str, Any]]:
    """What every loxo container (server, engine workers) needs to reach the store."""
    def secret(key: str) -> dict[str, Any]:
        return {"secretKeyRef": {"name": "loxo", "key": key}}
    return [
        {"name": "LOXO_DB_PASSWORD", "valueFrom": secret("db-password")},
        {"name": "LOXO_DB", "value": "postgresql://loxo:$(LOXO_DB_PASSWORD)@loxo-postgres:5432/loxo"},
        {"name": "LOXO_STORAGE", "value": f"s3://{BUCKET}/objects?endpoint=http://loxo-s3:8333"},
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": secret("s3-access-key")},
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": secret("s3-secret-key")},
        {"name": "AWS_REGION", "value": "us-east-1"},
        {"name": "RAY_USAGE_STATS_ENABLED", "value": "0"},
    ]


def _base(plan: Plan) -> list[Manifest]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": plan.namespace}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": plan.meta("loxo"), "type": "Opaque",
         "stringData": {"db-password": plan.db_password, "s3-access-key": plan.s3_key,
                        "s3-secret-key": plan.s3_secret}},
    ]


def _service(plan: Plan, name: str, ports: dict[str, int]) -> Manifest:
    return {"apiVersion": "v1", "kind": "Service", "metadata": plan.meta(name),
            "spec": {"selector": {"app.kubernetes.io/name": name},
                     "ports": [{"name": n, "port": p, "targetPort": p} for n, p in ports.items()]}}


def _stateful(plan: Plan, name: str, container: dict[str, Any], mount: str) -> Manifest:
    container = {**container, "volumeMounts": [{"name": "data", "mountPath": mount}]}
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": plan.meta(name),
        "spec": {
            "serviceName": name, "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}},
                         "spec": {"containers": [container]}},
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": plan.storage}}}}],
        },
    }


def _postgres(plan: Plan) -> list[Manifest]:
    container = {
        "name": "postgres", "image": POSTGRES_IMAGE, "ports": [{"containerPort": 5432}],
        "env": [{"name": "POSTGRES_USER", "value": "loxo"}, {"name": "POSTGRES_DB", "value": "loxo"},
                {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                {"name": "POSTGRES_PASSWORD",
                 "valueFrom": {"secretKeyRef": {"name": "loxo", "key": "db-password"}}}],
        "readinessProbe": {"exec": {"command": ["pg_isready", "-U", "loxo"]}, "periodSeconds": 5},
    }
    return [_stateful(plan, "loxo-postgres", container, "/var/lib/postgresql/data"),
            _service(plan, "loxo-postgres", {"postgres": 5432})]


def _object_store(plan: Plan) -> list[Manifest]:
    container = {
        "name": "seaweedfs", "image": SEAWEEDFS_IMAGE,
        "args": ["mini", "-dir=/data", "-ip.bind=0.0.0.0", "-admin.ui=false"],
        "ports": [{"containerPort": 8333}],
        "env": [{"name": "S3_BUCKET", "value": BUCKET},
                {"name": "AWS_ACCESS_KEY_ID",
                 "valueFrom": {"secretKeyRef": {"name": "loxo", "key": "s3-access-key"}}},
                {"name": "AWS_SECRET_ACCESS_KEY",
                 "valueFrom": {"secretKeyRef": {"name": "loxo", "key": "s3-secret-key"}}}],
        "readinessProbe": {"tcpSocket": {"port": 8333}, "periodSeconds": 5},
    }
    return [_stateful(plan, "loxo-s3", container, "/data"), _service(plan, "loxo-s3", {"s3": 8333})]


def _server(plan: Plan) -> list[Manifest]:
    container = {
        "name": "loxo", "image": plan.image,
        "args": ["loxo", "serve", "--host", "0.0.0.0", "--port", "8080", "--executor", plan.executor],
        "env": _env(plan), "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": plan.meta("loxo-server"),
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"},  # one controller at a time
                 "selector": {"matchLabels": {"app.kubernetes.io/name": "loxo-server"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "loxo-server"}},
                              "spec": {"containers": [container]}}},
    }
    return [deployment, _service(plan, "loxo-server", {"http": 8080})]


def _engine_container(plan: Plan, name: str, cpu: str, memory: str) -> dict[str, Any]:
    return {"name": name, "image": plan.image, "env": _env(plan),
            "resources": {"requests": {"cpu": cpu, "memory": memory},
                          "limits": {"cpu": cpu, "memory": memory}}}


def _ray_cluster(plan: Plan) -> Manifest:
    head = _engine_container(plan, "ray-head", "1", "2Gi")
    head["ports"] = [{"containerPort": 6379, "name": "gcs"}, {"containerPort": 10001, "name": "client"}]
    worker = _engine_container(plan, "ray-worker", plan.worker_cpu, plan.worker_memory)
    return {
        "apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": plan.meta("loxo-ray"),
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {"num-cpus": "0", "include-dashboard": "false",
                                   "disable-usage-stats": "true"},
                "template": {"spec": {"containers": [head]}}},
            "workerGroupSpecs": [{
                "groupName": "datums", "replicas": plan.workers, "minReplicas": 1,
                "maxReplicas": max(plan.workers, 1) * 4, "rayStartParams": {},
                "template": {"spec": {"containers": [worker]}}}],
        },
    }


def _dask_cluster(plan: Plan) -> Manifest:
    scheduler = _engine_container(plan, "scheduler", "1", "2Gi")
    scheduler["args"] = ["dask", "scheduler", "--no-dashboard"]
    scheduler["ports"] = [{"containerPort": 8786, "name": "tcp-comm"}]
    worker = _engine_container(plan, "worker", plan.worker_cpu, plan.worker_memory)
    worker["args"] = ["dask", "worker", "--name", "$(DASK_WORKER_NAME)", "--nthreads", plan.worker_cpu,
                      "--no-dashboard", "--memory-limit", plan.worker_memory,
                      "--resources", f"cpu={plan.worker_cpu}"]
    return {
        "apiVersion": "kubernetes.dask.org/v1", "kind": "DaskCluster", "metadata": plan.meta("loxo-dask"),
        "spec": {
            "worker": {"replicas": plan.workers, "spec": {"containers": [worker]}},
            "scheduler": {
                "spec": {"containers": [scheduler]},
                "service": {"type": "ClusterIP",
                            "selector": {"dask.org/cluster-name": "loxo-dask",
                                         "dask.org/component": "scheduler"},
                            "ports": [{"name": "tcp-comm", "protocol": "TCP", "port": 8786,
                                       "targetPort": "tcp-comm"}]}},
        },
    }


def kubernetes_manifests(plan: Plan) -> list[Manifest]:
    """Every manifest of a loxo on Kubernetes, in the order to apply them."""
    manifests = _base(plan) + _postgres(plan) + _object_store(plan) + _server(plan)
    if plan.engine == "ray":
        manifests.append(_ray_cluster(plan))
    elif plan.engine == "dask":
        manifests.append(_dask_cluster(plan))
    return manifests


def render(manifests: list[Manifest]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False)


def deploy(
    target: Annotated[str, typer.Argument(help="Where to deploy: kubernetes.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the manifests (the only mode).")] = False,
    engine: Annotated[str, typer.Option(help="What runs datums: ray, dask or local.")] = "ray",
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace.")] = "loxo",
    image: Annotated[str, typer.Option(help="A loxo image with loxo[ray,dask] (deploy/Dockerfile).")]
    = "loxo:0.1.0",
    workers: Annotated[int, typer.Option(help="Ray worker pods or Dask workers.")] = 2,
    worker_cpu: Annotated[str, typer.Option(help="CPUs of each worker pod.")] = "2",
    worker_memory: Annotated[str, typer.Option(help="Memory of each worker pod.")] = "4Gi",
    volume_size: Annotated[str, typer.Option(help="Volume of PostgreSQL and of the object store.")] = "20Gi",
) -> None:
    """Print the manifests of a whole loxo (server, PostgreSQL, S3 store, Ray or Dask).

    Apply them with: loxo deploy --dry-run kubernetes | kubectl apply -f -
    """
    if target != "kubernetes":
        raise InvalidArgument(f"deploy target {target!r}: only kubernetes (see docs/deploy.md for a VM)")
    if not dry_run:
        raise InvalidArgument("loxo does not talk to Kubernetes itself: use --dry-run | kubectl apply -f -")
    if engine not in ("ray", "dask", "local"):
        raise InvalidArgument(f"engine {engine!r}: ray, dask or local")
    if workers < 1:
        raise InvalidArgument("workers must be at least 1")
    plan = Plan(namespace, image, engine, workers, worker_cpu, worker_memory, volume_size,
                db_password=secrets.token_urlsafe(18), s3_key="loxo", s3_secret=secrets.token_urlsafe(24))
    typer.echo(render(kubernetes_manifests(plan)), nl=False)
