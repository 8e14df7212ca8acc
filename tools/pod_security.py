"""The Pod Security Standards (baseline and restricted, policy version v1.33) as Pod Security Admission checks them.

Every control of https://kubernetes.io/docs/concepts/security/pod-security-standards/ for Linux pods, written
from the admission plugin's checks (k8s.io/pod-security-admission/policy/check_*.go): a pod is refused in a
namespace whose `pod-security.kubernetes.io/enforce` level it violates. Kept here rather than taken from a
library because no maintained Python implementation exists (the upstream one is Go, inside the API server),
and these checks are what decides whether the first `pulumi up` succeeds.

`violations(pod_spec, level)` returns one line per failed control; `pod_specs(obj)` finds the pod template of
every workload kind (the operator's Prometheus and Alertmanager included, as the operator builds their pods).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

LEVELS = ("privileged", "baseline", "restricted")

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
POD_TEMPLATE_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "Rollout"}

# The prometheus-operator builds the Prometheus and Alertmanager pods itself; every container it adds
# (prometheus/alertmanager, config-reloader, init-config-reloader) gets this securityContext
# (pkg/k8sutil: `DefaultSecurityContext` since v0.66), and the pod the CR's `spec.securityContext`.
OPERATOR_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
OPERATOR_KINDS = {"Prometheus": ["prometheus", "config-reloader"], "Alertmanager": ["alertmanager", "config-reloader"]}


def pod_specs(obj: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The pod spec(s) an object makes the cluster admit."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        yield spec
    elif kind in POD_TEMPLATE_KINDS:
        yield (spec.get("template") or {}).get("spec") or {}
    elif kind == "CronJob":
        yield ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    elif kind in OPERATOR_KINDS:
        extra = {c["name"]: c for c in spec.get("containers") or []}
        containers = [
            {"name": name, "securityContext": {**OPERATOR_CONTAINER_SECURITY, **(extra.get(name, {}).get("securityContext") or {})}}
            for name in OPERATOR_KINDS[kind]
        ]
        containers += [c for n, c in extra.items() if n not in OPERATOR_KINDS[kind]]
        yield {
            "securityContext": spec.get("securityContext") or {},
            "containers": containers,
            "initContainers": spec.get("initContainers") or [],
            "volumes": spec.get("volumes") or [],
        }


def _containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or []), *(pod.get("ephemeralContainers") or [])]


def _baseline(pod: Mapping[str, Any]) -> Iterator[str]:
    psc = pod.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            yield f"host namespaces: {field}=true"
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        yield "HostProcess: pod windowsOptions.hostProcess=true"
    for volume in pod.get("volumes") or []:
        if "hostPath" in volume:
            yield f"hostPath volumes: volume {volume.get('name')!r}"
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"sysctls: {sysctl.get('name')}"
    yield from _baseline_context("pod", psc)
    for container in _containers(pod):
        name, sc = container.get("name"), container.get("securityContext") or {}
        where = f"container {name!r}"
        if sc.get("privileged"):
            yield f"privileged: {where}"
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            yield f"HostProcess: {where}"
        added = set((sc.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if added:
            yield f"capabilities: {where} adds {sorted(added)}"
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                yield f"host ports: {where} hostPort {port['hostPort']}"
        if sc.get("procMount") not in (None, "Default"):
            yield f"/proc mount: {where} procMount={sc['procMount']}"
        yield from _baseline_context(where, sc)


def _baseline_context(where: str, sc: Mapping[str, Any]) -> Iterator[str]:
    if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        yield f"seccomp: {where} seccompProfile Unconfined"
    apparmor = (sc.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault", "Localhost"):
        yield f"AppArmor: {where} appArmorProfile {apparmor}"
    selinux = sc.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        yield f"SELinux: {where} seLinuxOptions {dict(selinux)}"


def _restricted(pod: Mapping[str, Any]) -> Iterator[str]:
    psc = pod.get("securityContext") or {}
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            yield f"volume types: volume {volume.get('name')!r} is {sorted(kinds - RESTRICTED_VOLUMES)}"
    pod_nonroot = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if psc.get("runAsUser") == 0:
        yield "running as non-root user: pod runAsUser=0"
    if pod_nonroot is False:
        yield "running as non-root: pod runAsNonRoot=false"
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        yield f"seccomp: pod seccompProfile {pod_seccomp}"
    for container in _containers(pod):
        name, sc = container.get("name"), container.get("securityContext") or {}
        where = f"container {name!r}"
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"privilege escalation: {where} must set allowPrivilegeEscalation=false"
        nonroot = sc.get("runAsNonRoot", pod_nonroot)
        if nonroot is not True:
            yield f"running as non-root: {where} must set runAsNonRoot=true (or the pod)"
        if sc.get("runAsUser") == 0:
            yield f"running as non-root user: {where} runAsUser=0"
        seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"seccomp: {where} must set seccompProfile RuntimeDefault or Localhost (or the pod)"
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"capabilities: {where} must drop ALL"
        added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            yield f"capabilities: {where} may add only NET_BIND_SERVICE, adds {sorted(added)}"


def violations(pod: Mapping[str, Any], level: str) -> list[str]:
    """The controls `pod` fails at `level` (privileged allows everything)."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r}; one of {LEVELS}")
    if level == "privileged":
        return []
    found = list(_baseline(pod))
    if level == "restricted":
        found += _restricted(pod)
    return found
