"""Shared clusters in the bill: the Kubernetes attribution keys (cluster, namespace, workload, node) of a line item,
as SQL over a tags map and an allocated resource id. One place for the spellings of EKS, AKS and GKE:

- FOCUS 1.3 allocated charges: `AllocatedTags` (e.g. `workload`), `AllocatedResourceId`
  (`…/managedClusters/NAME/workloads/WORKLOAD` on AKS, `arn:aws:eks:…:pod/CLUSTER/NAMESPACE/…` on EKS);
- AWS split cost allocation tags: `aws:eks:cluster-name`, `aws:eks:namespace`, `aws:eks:workload-name`,
  `aws:eks:node`, and ECS's `aws:ecs:cluster-name`, `aws:ecs:service-name` (CUR 2.0's `resource_tags` spells them
  `aws_eks_cluster_name`, …);
- GKE cost allocation labels: `goog-k8s-cluster-name`, `k8s-namespace`, `k8s-label/app`; GKE books a node's
  unrequested capacity to the namespace `goog-k8s-unallocated`, which costbot shows as the workload `(idle)`.
"""

from __future__ import annotations

from bot.adapters.sources.columns import quote_literal
from bot.domain.spec import IDLE

CLUSTER_KEYS = ("goog-k8s-cluster-name", "aws:eks:cluster-name", "aws_eks_cluster_name", "aws:ecs:cluster-name",
                "aws_ecs_cluster_name", "kubernetes_cluster", "k8s-cluster")
NAMESPACE_KEYS = ("k8s-namespace", "aws:eks:namespace", "aws_eks_namespace", "kubernetes_namespace", "namespace")
WORKLOAD_KEYS = ("aws:eks:workload-name", "aws_eks_workload_name", "aws:eks:deployment", "aws_eks_deployment",
                 "aws:ecs:service-name", "aws_ecs_service_name", "k8s-label/app.kubernetes.io/name", "k8s-label/app",
                 "workload")
NODE_KEYS = ("aws:eks:node", "aws_eks_node", "k8s-node")
#: namespaces a provider books a node's unused capacity to
IDLE_NAMESPACES = ("goog-k8s-unallocated",)


def tag_value(tags: str, keys: tuple[str, ...], present: frozenset[str] | None = None) -> str:
    """The first non-empty value among these keys of a MAP(VARCHAR, VARCHAR) expression. `present`: the keys the
    file's maps hold, when known; a key no map holds is NULL on every row, so it is not looked up (a bill without
    Kubernetes tags then pays for none of these lookups, a third of its insert)."""
    refs = [f"NULLIF(map_extract_value({tags}, {quote_literal(k)}), '')" for k in keys
            if present is None or k in present]
    return f"coalesce({', '.join(refs)})" if refs else "CAST(NULL AS VARCHAR)"


def _from_id(resource_id: str, pattern: str) -> str:
    return f"NULLIF(regexp_extract({resource_id}, {quote_literal(pattern)}, 1), '')"


def cluster_exprs(tags: str, resource_id: str = "NULL", node: str = "NULL",
                  present: frozenset[str] | None = None) -> dict[str, str]:
    """`x_Cluster`, `x_Namespace`, `x_Workload`, `x_Node` from the attributed tags and the allocated (or pod)
    resource id; `node` is the fallback for the node (the origin host of an allocated charge). `present`: the
    tag keys `tags` holds anywhere in the file, when known (see `tag_value`)."""
    namespace = (f"coalesce({tag_value(tags, NAMESPACE_KEYS, present)}, "
                 f"{_from_id(resource_id, r':pod/[^/]+/([^/]+)/')})")
    idle = ", ".join(quote_literal(n) for n in IDLE_NAMESPACES)
    workload = (f"CASE WHEN ({namespace}) IN ({idle}) THEN {quote_literal(IDLE)} ELSE coalesce("
                f"{tag_value(tags, WORKLOAD_KEYS, present)}, {_from_id(resource_id, r'/workloads/([^/]+)$')}) END")
    return {
        "x_Cluster": (f"coalesce({tag_value(tags, CLUSTER_KEYS, present)}, "
                      f"{_from_id(resource_id, r'/managedClusters/([^/]+)')}, "
                      f"{_from_id(resource_id, r':(?:cluster|pod)/([^/]+)')})"),
        "x_Namespace": namespace,
        "x_Workload": workload,
        "x_Node": f"coalesce({tag_value(tags, NODE_KEYS, present)}, {node})",
    }
