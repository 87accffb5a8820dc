// The Kubernetes manifest rules (ids "k8s-…", listed with their fixes in docs/scan-rules.md)
// for the pod specs of Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
// CronJobs: privileged containers, privilege escalation, running as root, missing limits and
// probes, hostPath volumes, host namespaces, unpinned images, dangerous capabilities, writable
// root filesystems, literal secrets in env and the default namespace. Every container and init
// container is checked; probes are not asked of init containers nor of Jobs and CronJobs.
//
// Only YAML with a top-level `apiVersion:` and `kind:` line is parsed at all: lockfiles, CI
// configs and API specs are skipped unread, and a broken one is not ours to report. A file may
// hold several documents (---); each is parsed on its own, so a malformed one is a Problem
// (path:line) and the others are still checked; documents without apiVersion and kind are
// skipped.
// Thread safety: stateless; safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "scan/finding.h"

namespace steward::scan {

// `path` is what findings and problems carry. Does not count files or bytes.
ScanResult ScanKubernetesYaml(std::string_view text, const std::string& path);

}  // namespace steward::scan
