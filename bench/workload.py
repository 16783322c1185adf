"""What the benchmark drives: the four-in-one main path and a generated chain of user tasks.

The main path is one scenario of ``tests/flows/scenarios.py`` (imported, not copied, so the
benchmark follows the process when the scenario catalogue changes). The chain process is
generated in memory at run time and never written to the repository.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAIN_PROCESS_DIR = ROOT / "bpmn" / "four_in_one"
SCENARIO = "living_alone_parents_reached_good_caring"
VILLAGE = "t01v01"
CHAIN_PROCESS = "bench_chain"
CHAIN_LANE = "township"

if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))


@dataclass(frozen=True)
class MainStep:
    bpmn_id: str
    lane: str
    username: str
    data: dict[str, Any]


def main_path() -> tuple[dict[str, Any], list[MainStep]]:
    """(start data, steps) of the scenario, each step with the demo user routing picks for it."""
    from flows.scenarios import SCENARIOS
    from helpers import unit_user

    scenario = SCENARIOS[SCENARIO]
    steps = [MainStep(s.bpmn_id, s.lane, unit_user(s.lane, VILLAGE), dict(s.data)) for s in scenario.steps]
    return dict(scenario.start), steps


def report_body(n: int) -> dict[str, Any]:
    """The POST /api/v1/reports body for case ``n`` of the main scenario (before schema loading)."""
    from flows.scenarios import SCENARIOS
    from helpers import report_payload

    start = SCENARIOS[SCENARIO].start
    body = report_payload(start["situation"], VILLAGE, name=f"儿童{n:05d}")
    body["report"]["reporter_type"] = start["reporter_type"]
    return body


def main_files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(MAIN_PROCESS_DIR.iterdir())
            if p.suffix in (".bpmn", ".dmn")}


def chain_step_id(i: int) -> str:
    return f"step_{i:04d}"


def chain_bpmn(steps: int) -> str:
    """A process with ``steps`` user tasks in a row, all in the ``township`` lane, deadline 1WD, no form."""
    ids = [chain_step_id(i) for i in range(1, steps + 1)]
    nodes = ["start", *ids, "end"]
    flows = [(f"flow_{k}", nodes[k], nodes[k + 1]) for k in range(len(nodes) - 1)]
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'id="Definitions_bench_chain" targetNamespace="http://bpmn.io/schema/bpmn">',
        '  <bpmn:collaboration id="Collaboration_bench_chain">',
        f'    <bpmn:participant id="Participant_bench_chain" name="bench chain" processRef="{CHAIN_PROCESS}" />',
        "  </bpmn:collaboration>",
        f'  <bpmn:process id="{CHAIN_PROCESS}" name="benchmark chain of {steps} steps" isExecutable="true">',
        '    <bpmn:laneSet id="LaneSet_bench_chain">',
        f'      <bpmn:lane id="Lane_{CHAIN_LANE}" name="{CHAIN_LANE}">',
        *[f"        <bpmn:flowNodeRef>{node}</bpmn:flowNodeRef>" for node in nodes],
        "      </bpmn:lane>",
        "    </bpmn:laneSet>",
        f'    <bpmn:startEvent id="start"><bpmn:outgoing>{flows[0][0]}</bpmn:outgoing></bpmn:startEvent>',
    ]
    for k, task_id in enumerate(ids, start=1):
        out += [
            f'    <bpmn:userTask id="{task_id}" name="step {k}">',
            "      <bpmn:extensionElements><spiffworkflow:properties>"
            '<spiffworkflow:property name="deadline" value="1WD" />'
            "</spiffworkflow:properties></bpmn:extensionElements>",
            f"      <bpmn:incoming>{flows[k - 1][0]}</bpmn:incoming>",
            f"      <bpmn:outgoing>{flows[k][0]}</bpmn:outgoing>",
            "    </bpmn:userTask>",
        ]
    out.append(f'    <bpmn:endEvent id="end"><bpmn:incoming>{flows[-1][0]}</bpmn:incoming></bpmn:endEvent>')
    out += [f'    <bpmn:sequenceFlow id="{f}" sourceRef="{a}" targetRef="{b}" />' for f, a, b in flows]
    out += ["  </bpmn:process>", "</bpmn:definitions>", ""]
    return "\n".join(out)


def chain_user() -> str:
    from helpers import unit_user

    return unit_user(CHAIN_LANE, VILLAGE)


def chain_files(steps: int) -> dict[str, str]:
    return {f"{CHAIN_PROCESS}.bpmn": chain_bpmn(steps)}


CHAIN_START = {"case_number": "LD-BENCH", "situation": "living_alone"}
