"""Graph clustering of the affinity graph (networkx) as a grouping heuristic.

Tasks are nodes; an undirected edge carries the positive part of the symmetrised affinity
``(S[u, v] + S[v, u]) / 2`` (a negative affinity means "do not share", not a negative weight, which modularity
cannot use). Greedy modularity clustering merges communities until at most ``k`` remain. The communities are a
partition; in ``singletons="exclude"`` mode a lone task joins the community where the selection value is best.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from networkx.algorithms.community import greedy_modularity_communities

from taskgroup.grouping.cover import Group, GroupScorer

__all__ = ["modularity_groups"]


def modularity_groups(scorer: GroupScorer, k: int) -> list[Group]:
    """At most ``k`` groups from greedy modularity communities of the positive affinity graph.

    The graph's edge weights are the positive part of the symmetrised matrix ``(S + S^T) / 2``. Without
    singletons, each one-task community is merged into the group where it raises ``V`` most.

    Parameters
    ----------
    scorer : GroupScorer
        The matrix and whether singletons are allowed.
    k : int
        The most groups.

    Returns
    -------
    list of frozenset of int
    """
    n = scorer.n
    W = np.clip((scorer.S + scorer.S.T) / 2, 0.0, None)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for u in range(n):
        for v in range(u + 1, n):
            if W[u, v] > 0:
                graph.add_edge(u, v, weight=float(W[u, v]))
    communities = greedy_modularity_communities(graph, weight="weight", cutoff=1, best_n=k)
    groups = [frozenset(c) for c in communities]
    while not scorer.singletons and any(len(g) == 1 for g in groups) and len(groups) > 1:
        lone = next(g for g in groups if len(g) == 1)
        rest = [g for g in groups if g != lone]
        options = [[h | lone if h == target else h for h in rest] for target in rest]
        groups = max(options, key=scorer.value)
    return groups
