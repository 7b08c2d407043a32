"""``loxo deploy --dry-run kubernetes``: YAML documents of the expected kinds, wired to
each other (the server's executor names the engine cluster's service)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from loxo.cli.main import root


def manifests(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(root, ["deploy", "--dry-run", "kubernetes", *args])
    assert result.exit_code == 0, result.output
    return list(yaml.safe_load_all(result.stdout))


def by_kind(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        found.setdefault(doc["kind"], []).append(doc)
    return found


def server_args(docs: list[dict[str, Any]]) -> list[str]:
    deployment = by_kind(docs)["Deployment"][0]
    args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_ray_manifests() -> None:
    docs = manifests("--workers", "3")
    kinds = by_kind(docs)
    assert sorted(kinds) == ["Deployment", "Namespace", "RayCluster", "Secret", "Service", "StatefulSet"]
    assert {d["metadata"]["name"] for d in kinds["StatefulSet"]} == {"loxo-postgres", "loxo-s3"}
    assert {d["metadata"]["name"] for d in kinds["Service"]} == {"loxo-postgres", "loxo-s3", "loxo-server"}
    ray = kinds["RayCluster"][0]
    assert ray["apiVersion"] == "ray.io/v1"
    assert ray["spec"]["workerGroupSpecs"][0]["replicas"] == 3
    assert server_args(docs)[-2:] == ["--executor", "ray://loxo-ray-head-svc:10001"]
    assert all(d["metadata"].get("namespace", "loxo") == "loxo" for d in docs)
    secret = kinds["Secret"][0]["stringData"]
    assert "change-me" not in secret.values() and manifests()[1]["stringData"] != secret  # random


def test_dask_and_local_manifests() -> None:
    docs = manifests("--engine", "dask", "--namespace", "data")
    dask = by_kind(docs)["DaskCluster"][0]
    assert dask["apiVersion"] == "kubernetes.dask.org/v1"
    assert dask["metadata"]["namespace"] == "data"
    assert server_args(docs)[-1] == "dask://loxo-dask-scheduler:8786"
    local = by_kind(manifests("--engine", "local"))
    assert "RayCluster" not in local and "DaskCluster" not in local


@pytest.mark.parametrize("args", [
    ["kubernetes"], ["--dry-run", "nomad"], ["--dry-run", "kubernetes", "--engine", "spark"],
])
def test_deploy_refuses_what_it_cannot_do(args: list[str]) -> None:
    result = CliRunner().invoke(root, ["deploy", *args])
    assert result.exit_code == 1 and result.output.startswith("error: ")
