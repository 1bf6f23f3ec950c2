"""deploy/kubernetes/: every manifest valid against Kubernetes' schemas, and wired together."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml

from config.settings import Settings, load_settings
from tests.deploy.tools import REPOSITORY

BASE = REPOSITORY / "deploy" / "kubernetes"
# The oldest Kubernetes release still maintained upstream when this was written, and the newest known.
VERSIONS = ("1.30", kubernetes_validate.latest_version())
SECRETS = {
    "SIPVAKT_DATABASE_URL": "postgresql://sipvakt:not-a-password@db.example.se:5432/sipvakt",
    "SIPVAKT_SECRET_KEY": "ZXhhbXBsZS1vbmx5LWtleS1jaGFuZ2UtbWUtMDAwMDA=",
    "SIPVAKT_WEBHOOK_SECRET": "whsec_c2lwdmFrdC1leGFtcGxlLXNlY3JldC0wMDAwMDA=",
}


def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return loaded


def resources() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for name in kustomization()["resources"]:
        documents.extend(document for document in yaml.safe_load_all((BASE / name).read_text()) if document)
    return documents


def resource(kind: str) -> dict[str, Any]:
    (found,) = (document for document in resources() if document["kind"] == kind)
    return found


def pod_labels(kind: str) -> dict[str, str]:
    labels: dict[str, str] = resource(kind)["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def container(kind: str) -> dict[str, Any]:
    (only,) = resource(kind)["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = only
    return found


def test_the_kustomization_lists_every_manifest_in_its_folder() -> None:
    listed = kustomization()["resources"]
    present = sorted(path.name for path in BASE.iterdir() if path.name != "kustomization.yaml")
    assert sorted(listed) == present
    assert len(set(listed)) == len(listed)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version: str) -> None:
    kinds = set()
    for document in resources():
        kubernetes_validate.validate(document, version, strict=True)
        kinds.add(document["kind"])
    assert kinds >= {"Deployment", "Job", "Service", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap"}


def break_replicas(deployment: dict[str, Any]) -> None:
    deployment["spec"]["replicas"] = "three"


def misspell_a_probe(deployment: dict[str, Any]) -> None:
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}


def drop_the_selector(deployment: dict[str, Any]) -> None:
    del deployment["spec"]["selector"]


def drop_the_containers(deployment: dict[str, Any]) -> None:
    del deployment["spec"]["template"]["spec"]["containers"]


BREAKAGES = [break_replicas, misspell_a_probe, drop_the_selector, drop_the_containers]


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_manifest_fails_validation(breakage: Callable[[dict[str, Any]], None]) -> None:
    deployment = copy.deepcopy(resource("Deployment"))
    breakage(deployment)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


def test_three_replicas_probe_health_and_request_resources() -> None:
    deployment = resource("Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels("Deployment"))
    server = container("Deployment")
    assert server["readinessProbe"]["httpGet"]["path"] == "/v1/health"
    assert "livenessProbe" in server
    assert {"cpu", "memory"} <= server["resources"]["requests"].keys()
    assert server["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_image_tag_is_the_projects_version() -> None:
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    (image,) = kustomization()["images"]
    assert image == {"name": container("Deployment")["image"], "newTag": project["version"]}


def test_the_migration_job_runs_sipvakt_migrate() -> None:
    assert container("Job")["args"] == ["sipvakt", "migrate"]
    assert container("Job")["image"] == container("Deployment")["image"]


def test_the_service_budget_and_network_policy_select_the_replicas() -> None:
    server = pod_labels("Deployment")
    assert selects(resource("Service")["spec"]["selector"], server)
    assert selects(resource("PodDisruptionBudget")["spec"]["selector"]["matchLabels"], server)
    policy = resource("NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    assert selects(policy, server) and selects(policy, pod_labels("Job"))
    http_port = container("Deployment")["ports"][0]["containerPort"]
    assert resource("NetworkPolicy")["spec"]["ingress"][0]["ports"][0]["port"] == http_port
    assert resource("ConfigMap")["data"]["SIPVAKT_HTTP_PORT"] == str(http_port)


def secret_references(kind: str) -> dict[str, str]:
    return {
        variable["name"]: variable["valueFrom"]["secretKeyRef"]["name"]
        for variable in container(kind)["env"]
        if "secretKeyRef" in variable.get("valueFrom", {})
    }


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_secrets_come_from_a_secret_and_the_settings_are_ones_the_service_accepts(kind: str) -> None:
    references = secret_references(kind)
    assert {"SIPVAKT_DATABASE_URL", "SIPVAKT_SECRET_KEY"} <= references.keys()
    if kind == "Deployment":
        assert "SIPVAKT_WEBHOOK_SECRET" in references
    assert not [variable for variable in container(kind)["env"] if "value" in variable]
    configured = resource("ConfigMap")["data"]
    known = {"SIPVAKT_" + name.upper() for name in Settings.model_fields}
    assert not (configured.keys() | references.keys()) - known
    settings = load_settings({**configured, **{name: SECRETS[name] for name in references}})
    assert settings.database_url is not None and settings.secret_key is not None


def test_the_pods_run_as_the_images_user() -> None:
    dockerfile = (REPOSITORY / "Dockerfile").read_text().splitlines()
    image_user = [line.split()[1] for line in dockerfile if line.startswith("USER ")][-1]
    for kind in ("Deployment", "Job"):
        pod_security = resource(kind)["spec"]["template"]["spec"]["securityContext"]
        assert pod_security["runAsNonRoot"] is True
        assert str(pod_security["runAsUser"]) == image_user


def test_nothing_secret_is_in_the_base() -> None:
    assert not [document for document in resources() if document["kind"] == "Secret"]
