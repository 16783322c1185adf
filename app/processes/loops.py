"""Find loops in sequence flows: SpiffWorkflow 3.2.0 stalls after about 250 rounds of a gateway loop.

A loop drawn with sequence flows (a gateway sending the case back to an earlier
step) has no bound the engine can enforce, so deploy refuses it; repetition is
modelled with a loop/multi-instance marker or one short instance per round
(DESIGN.md: keep instances bounded). Boundary events count as leaving their
task, so "timer on a task, flow back to the task" is a loop too.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import engine


@dataclass(frozen=True)
class Loop:
    nodes: list[str]
    """Flow node ids on the loop, in the order found."""
    flows: list[str]
    """Sequence flow ids inside the loop; the first is the back-edge out of a gateway when there is one."""


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (diagrams can be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = graph.get(node, [])
            if child < len(successors):
                work.append((node, child + 1))
                nxt = successors[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def find_loops(model: engine.BundleModel) -> list[Loop]:
    flows = [e for e in model.elements if e.type == "sequenceFlow" and e.source and e.target]
    types = {e.id: e.type for e in model.elements}
    graph: dict[str, list[str]] = {}
    for flow in flows:
        graph.setdefault(str(flow.source), []).append(str(flow.target))
        graph.setdefault(str(flow.target), [])
    for event in model.elements:
        if event.attached_to:
            graph.setdefault(event.attached_to, []).append(event.id)
            graph.setdefault(event.id, [])
    loops = []
    for component in _strongly_connected(graph):
        members = set(component)
        inside = [f for f in flows if f.source in members and f.target in members]
        if len(component) == 1 and not inside:
            continue
        inside.sort(key=lambda f: (not types.get(str(f.source), "").endswith("Gateway"), f.id))
        order = [n for n in graph if n in members]
        loops.append(Loop(nodes=order, flows=[f.id for f in inside]))
    return loops
