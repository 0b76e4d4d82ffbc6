"""The Kubernetes manifests in ``autograder/platforms/k8s/``, checked against the Kubernetes client's models.

No cluster is needed: each YAML document is turned into the client's model for its kind (which
checks the types of the known fields), and a stricter walk over the models' ``attribute_map``
reports keys the models do not know, since the client's deserializer silently drops them.
"""
from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient, models

from autograder.cli import parser
from autograder.host.container import CAPABILITIES

K8S = Path(__file__).resolve().parents[3] / "autograder" / "platforms" / "k8s"
LIST_OF = re.compile(r"^List\[(.+)\]$")
DICT_OF = re.compile(r"^Dict\[str, (.+)\]$")


def documents() -> list[dict[str, Any]]:
    """Every non-empty YAML document of every ``*.yaml`` file in ``autograder/platforms/k8s/``."""
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return docs


def model_name(doc: dict[str, Any]) -> str:
    """The client's model class name for a manifest: ``batch/v1`` + ``Job`` gives ``V1Job``."""
    return doc["apiVersion"].rsplit("/", 1)[-1].capitalize() + doc["kind"]


def to_model(doc: dict[str, Any]) -> Any:
    """The manifest as the client's model object (raises when a known field has the wrong type)."""
    return ApiClient().deserialize(json.dumps(doc), model_name(doc), "application/json")


def unknown_keys(data: Any, type_name: str, path: str = "") -> list[str]:
    """Paths of the keys in ``data`` that the client's type ``type_name`` has no attribute for."""
    if match := LIST_OF.match(type_name):
        items = data if isinstance(data, list) else []
        return [p for i, item in enumerate(items) for p in unknown_keys(item, match[1], f"{path}[{i}]")]
    if match := DICT_OF.match(type_name):
        entries = data.items() if isinstance(data, dict) else []
        return [p for key, value in entries for p in unknown_keys(value, match[1], f"{path}[{key}]")]
    model = getattr(models, type_name, None)
    if not (isinstance(model, type) and hasattr(model, "attribute_map")) or not isinstance(data, dict):
        return []  # a primitive or free-form value; its type is the deserializer's business
    attribute = {json_key: name for name, json_key in model.attribute_map.items()}
    found: list[str] = []
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key in attribute:
            found += unknown_keys(value, model.openapi_types[attribute[key]], where)
        else:
            found.append(where)
    return found


def of_kind(kind: str) -> dict[str, Any]:
    """The single manifest of ``kind``."""
    found = [doc for doc in documents() if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} in {K8S}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def job() -> Any:
    """The grading Job as a ``V1Job``."""
    return to_model(of_kind("Job"))


def shard_command(job: Any) -> list[str]:
    """The words of the grader's ``sh -c`` script."""
    command = job.spec.template.spec.containers[0].command
    assert command[:2] == ["sh", "-c"] and len(command) == 3
    return shlex.split(command[2])


def test_every_document_is_a_known_model_without_unknown_fields() -> None:
    docs = documents()
    assert {doc["kind"] for doc in docs} == {"Job", "NetworkPolicy"}
    for doc in docs:
        obj = to_model(doc)
        assert type(obj).__name__ == model_name(doc)
        assert (obj.api_version, obj.kind) == (doc["apiVersion"], doc["kind"])
        assert unknown_keys(doc, model_name(doc)) == []


def test_job_is_indexed_and_its_shard_count_matches_the_command(job: Any) -> None:
    assert (job.api_version, job.kind) == ("batch/v1", "Job")
    spec = job.spec
    assert spec.completion_mode == "Indexed"
    words = shard_command(job)
    assert words[:6] == ["exec", "python", "-m", "autograder", "shard", "unet"]
    assert words[words.index("--index") + 1] == "$JOB_COMPLETION_INDEX"
    assert int(words[words.index("--count") + 1]) == spec.completions, "completions and --count differ"
    assert int(words[words.index("--jobs") + 1]) >= 1  # else the pod sizes itself by the node's cores
    assert words[words.index("--submitted") + 1] == "/course/submitted"
    assert words[words.index("--out") + 1] == "/course/results/unet"
    assert spec.parallelism is not None and 1 <= spec.parallelism <= spec.completions
    assert spec.backoff_limit is not None and spec.backoff_limit <= 5
    pod = spec.template.spec
    assert pod.restart_policy == "Never"
    assert pod.active_deadline_seconds and pod.active_deadline_seconds > 0
    assert pod.containers[0].image.startswith("unet-grader:")


def test_the_kits_cli_accepts_the_command(job: Any) -> None:
    words = [w.replace("$JOB_COMPLETION_INDEX", "0") for w in shard_command(job)[4:]]
    args = parser().parse_args(words)
    assert (args.command, args.assignment, args.index, args.count) == ("shard", "unet", 0, job.spec.completions)


def test_pod_resources_and_volumes(job: Any) -> None:
    pod = job.spec.template.spec
    container = pod.containers[0]
    for key in ("cpu", "memory"):
        assert key in container.resources.requests and key in container.resources.limits
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    volumes = {v.name: v for v in pod.volumes}
    mounts = {m.mount_path: volumes[m.name] for m in container.volume_mounts}
    assert mounts["/course"].persistent_volume_claim.claim_name == "unet-course"
    for path in ("/tmp", "/home/grader"):
        assert mounts[path].empty_dir.medium == "Memory" and mounts[path].empty_dir.size_limit


def test_pod_security(job: Any) -> None:
    pod = job.spec.template.spec
    assert pod.automount_service_account_token is False
    assert pod.security_context.seccomp_profile.type == "RuntimeDefault"
    context = pod.containers[0].security_context
    assert context.read_only_root_filesystem is True
    assert context.allow_privilege_escalation is False
    assert (context.run_as_user, context.run_as_non_root) == (0, False)
    assert context.capabilities.drop == ["ALL"]
    # the same capabilities as grading with `docker run`, and nothing that mounts or administers
    assert sorted(context.capabilities.add) == sorted(CAPABILITIES)
    assert not {"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE"} & set(context.capabilities.add)


def test_network_policy_denies_all_traffic_of_the_grading_pods(job: Any) -> None:
    policy = to_model(of_kind("NetworkPolicy"))
    assert policy.api_version == "networking.k8s.io/v1"
    assert set(policy.spec.policy_types) == {"Ingress", "Egress"}
    assert not policy.spec.ingress and not policy.spec.egress
    selector = policy.spec.pod_selector.match_labels
    assert selector == {"app": "unet-grader"}
    assert selector.items() <= job.spec.template.metadata.labels.items()


def test_misspelt_fields_are_reported_with_their_path() -> None:
    doc = copy.deepcopy(of_kind("Job"))
    doc["spec"]["completionsMode"] = doc["spec"].pop("completionMode")
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True
    container["resources"]["limits"]["nvidia.com/gpu"] = "1"  # a map key, not a field: never reported
    # the client's deserializer alone accepts the typos and silently drops them
    assert to_model(doc).spec.completion_mode is None
    assert unknown_keys(doc, "V1Job") == [
        "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem",
        "spec.completionsMode",
    ]
