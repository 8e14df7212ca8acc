"""The Pod Security Standards checker against one planted defect per control (no charts needed)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tools.pod_security import pod_specs, violations

RESTRICTED_POD: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "image": "app:1",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
            "ports": [{"containerPort": 8080}],
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "config", "configMap": {"name": "c"}}],
}


def planted(path: str, value: Any) -> dict[str, Any]:
    pod = copy.deepcopy(RESTRICTED_POD)
    *parents, last = path.split(".")
    node: Any = pod
    for key in parents:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    node[last] = value
    return pod


def test_a_restricted_pod_passes_every_level():
    for level in ("privileged", "baseline", "restricted"):
        assert violations(RESTRICTED_POD, level) == []


BASELINE_DEFECTS = [
    ("hostNetwork", True, "host namespaces: hostNetwork=true"),
    ("hostPID", True, "host namespaces: hostPID=true"),
    ("hostIPC", True, "host namespaces: hostIPC=true"),
    ("volumes", [{"name": "logs", "hostPath": {"path": "/var/log"}}], "hostPath volumes: volume 'logs'"),
    ("containers.0.securityContext.privileged", True, "privileged: container 'app'"),
    (
        "containers.0.securityContext.capabilities",
        {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
        "capabilities: container 'app' adds ['SYS_ADMIN']",
    ),
    ("containers.0.ports", [{"containerPort": 80, "hostPort": 80}], "host ports: container 'app' hostPort 80"),
    ("containers.0.securityContext.procMount", "Unmasked", "/proc mount: container 'app' procMount=Unmasked"),
    ("securityContext.seccompProfile", {"type": "Unconfined"}, "seccomp: pod seccompProfile Unconfined"),
    ("containers.0.securityContext.appArmorProfile", {"type": "Unconfined"}, "AppArmor: container 'app' appArmorProfile Unconfined"),
    ("securityContext.seLinuxOptions", {"type": "spc_t"}, "SELinux: pod seLinuxOptions {'type': 'spc_t'}"),
    ("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}], "sysctls: kernel.msgmax"),
    ("securityContext.windowsOptions", {"hostProcess": True}, "HostProcess: pod windowsOptions.hostProcess=true"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BASELINE_DEFECTS, ids=[d[0] for d in BASELINE_DEFECTS])
def test_baseline_controls_refuse_their_defect(path, value, expected):
    pod = planted(path, value)
    assert expected in violations(pod, "baseline")
    assert expected in violations(pod, "restricted")
    assert violations(pod, "privileged") == []


RESTRICTED_DEFECTS = [
    ("volumes", [{"name": "nfs", "nfs": {"server": "x", "path": "/"}}], "volume types: volume 'nfs' is ['nfs']"),
    (
        "containers.0.securityContext.allowPrivilegeEscalation",
        True,
        "privilege escalation: container 'app' must set allowPrivilegeEscalation=false",
    ),
    ("securityContext.runAsNonRoot", False, "running as non-root: pod runAsNonRoot=false"),
    ("containers.0.securityContext.runAsUser", 0, "running as non-root user: container 'app' runAsUser=0"),
    ("securityContext.seccompProfile", {}, "seccomp: container 'app' must set seccompProfile RuntimeDefault or Localhost (or the pod)"),
    ("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}, "capabilities: container 'app' must drop ALL"),
    (
        "containers.0.securityContext.capabilities",
        {"drop": ["ALL"], "add": ["CHOWN"]},
        "capabilities: container 'app' may add only NET_BIND_SERVICE, adds ['CHOWN']",
    ),
]


@pytest.mark.parametrize(("path", "value", "expected"), RESTRICTED_DEFECTS, ids=[f"{d[0]}-{i}" for i, d in enumerate(RESTRICTED_DEFECTS)])
def test_restricted_controls_refuse_their_defect(path, value, expected):
    pod = planted(path, value)
    assert expected in violations(pod, "restricted")
    assert violations(pod, "baseline") == []


def test_non_root_holds_for_init_containers_too():
    pod = planted("initContainers", [{"name": "init", "image": "i:1"}])
    assert "privilege escalation: container 'init' must set allowPrivilegeEscalation=false" in violations(pod, "restricted")


def test_operator_pods_take_the_custom_resource_security_context():
    prometheus = {
        "kind": "Prometheus",
        "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}},
    }
    (pod,) = pod_specs(prometheus)
    assert violations(pod, "restricted") == []
    (pod,) = pod_specs({"kind": "Prometheus", "spec": {}})
    assert "running as non-root: container 'prometheus' must set runAsNonRoot=true (or the pod)" in violations(pod, "restricted")
