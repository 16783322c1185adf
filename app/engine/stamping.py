"""Start many instances of one process from one prepared start state ("stamping").

A recurring duty starts the same process for a hundred thousand children with start data that differs
only in a few values (the case number, the subject). Running SpiffWorkflow once per child repeats the
same work each time: restore the spec, build the task tree, run to the first user task, serialize.
``prepare_start`` runs the engine once to the first wait state and keeps the serialized state as a
template whose per-instance parts are slots: every task id (a fresh ``uuid4`` per instance, as
SpiffWorkflow would make) and the value of each varying start-data key. ``StartTemplate.stamp`` fills
the slots by string joins, microseconds per instance.

A template is only made when stamping cannot differ from starting:

* no varying key is named anywhere in the spec (scripts, conditions, decisions, properties): nothing on
  the way to the first wait can read it, so the path and every computed value are the same for all;
* a second real start, with the second instance's values, equals the template stamped with those values
  (task ids and state-change times aside). ``prepare_start`` returns None otherwise, and the caller
  starts each instance the ordinary way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .serialization import SpecJson
from .types import CompletedStep, InstanceSnapshot, ReadyTask, WaitingTimer

_CHANGE_TIME = re.compile(r'"last_state_change": -?[0-9.eE+-]+')


@dataclass(frozen=True)
class StartTemplate:
    """A serialized start state with slots; ``parts`` alternate literal text and slot names."""

    parts: tuple[str, ...]
    """Even indexes: literal JSON text; odd: a slot, ``#n`` (the n-th task id) or a start-data key."""
    task_ids: int
    """How many task ids an instance gets."""
    snapshot: InstanceSnapshot
    """The prepared start's snapshot; its task ids are ``#n`` slots and its data the sample's."""
    varying: tuple[str, ...]

    def stamp(self, values: Mapping[str, Any]) -> InstanceSnapshot:
        """The snapshot of a start with ``values`` for the varying keys, with fresh task ids."""
        ids = uuid4_texts(self.task_ids)
        slots = {f"#{n}": f'"{task_id}"' for n, task_id in enumerate(ids)}
        slots.update((key, _value_text(values[key])) for key in self.varying)
        pieces = list(self.parts)
        pieces[1::2] = [slots[name] for name in self.parts[1::2]]
        state = "".join(pieces)
        snap = self.snapshot

        def task_id(slot: str) -> str:
            return ids[int(slot[1:])]

        return replace(
            snap, state=state, data={**snap.data, **{key: values[key] for key in self.varying}},
            ready_tasks=[replace(t, id=task_id(t.id)) for t in snap.ready_tasks],
            timers=[replace(t, task_id=task_id(t.task_id)) for t in snap.timers],
            steps=[replace(s, id=task_id(s.id)) for s in snap.steps])


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def uuid4_texts(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as ``str(uuid.uuid4())`` writes them, from one ``os.urandom`` call
    (a bulk start takes several per instance; building a ``UUID`` object for each was a tenth of stamping)."""
    raw = os.urandom(16 * count).hex()
    texts = []
    for start in range(0, 32 * count, 32):
        h = raw[start:start + 32]
        texts.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}")
    return texts


def _value_text(value: Any) -> str:
    """A value as ``dump_state`` writes it inside the state (the same encoder settings)."""
    return json.dumps(value, ensure_ascii=False)


_SPEC_WORDS: dict[str, frozenset[str]] = {}
"""Content hash -> every identifier-like word of the spec (specs never change; the scan runs once)."""


def named_in_spec(spec_key: str, spec_json: SpecJson, keys: Sequence[str]) -> list[str]:
    """The keys that appear as a word anywhere in the spec (a script, condition, decision or property).

    The spec JSON is read (``spec_json`` called) only the first time a version is asked about.
    """
    words = _SPEC_WORDS.get(spec_key)
    if words is None:
        spec = spec_json() if callable(spec_json) else spec_json
        words = frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", json.dumps(spec, ensure_ascii=False)))
        if len(_SPEC_WORDS) > 256:
            _SPEC_WORDS.clear()
        _SPEC_WORDS[spec_key] = words
    return [key for key in keys if key in words]


def _task_ids(state: dict[str, Any]) -> list[str]:
    """Every task id of a state (top workflow and subprocesses), in the order they appear in its text."""
    found: list[str] = list(state.get("tasks", {}))
    for sub_id, sub in (state.get("subprocesses") or {}).items():
        found.append(sub_id)
        found.extend(sub.get("tasks", {}))
    return list(dict.fromkeys(found))


def _slotted(state_text: str, values: Mapping[str, Any], varying: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """Split the state text at every task id and at every ``"key": <sample value>`` of a varying key."""
    ids = _task_ids(json.loads(state_text))
    index = {task_id: f"#{n}" for n, task_id in enumerate(ids)}
    needles = [re.escape(f'"{task_id}"') for task_id in ids]
    by_text: dict[str, str] = {}
    for key in varying:
        prefix = f"{json.dumps(key, ensure_ascii=False)}: "
        by_text[prefix + _value_text(values[key])] = key
        needles.append(re.escape(prefix + _value_text(values[key])))
    pattern = re.compile("|".join(sorted(needles, key=len, reverse=True)))
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(state_text):
        found = match.group(0)
        if found in by_text:  # keep the key in the literal, slot only its value
            key = by_text[found]
            prefix = f"{json.dumps(key, ensure_ascii=False)}: "
            parts.extend([state_text[last:match.start()] + prefix, key])
        else:
            parts.extend([state_text[last:match.start()], index[found[1:-1]]])
        last = match.end()
    parts.append(state_text[last:])
    return tuple(parts), len(ids)


def normalized(state_text: str) -> str:
    """A state with its task ids numbered by first appearance and its state-change times removed: two
    states that differ only in those are the same start."""
    ids = _task_ids(json.loads(state_text))
    index = {task_id: n for n, task_id in enumerate(ids)}
    text = _CHANGE_TIME.sub('"last_state_change": 0', state_text)
    if not ids:
        return text
    pattern = re.compile("|".join(re.escape(task_id) for task_id in ids))
    return pattern.sub(lambda m: f"task-{index[m.group(0)]}", text)


def _slot_ids(snap: InstanceSnapshot, ids: list[str]) -> InstanceSnapshot:
    index = {task_id: f"#{n}" for n, task_id in enumerate(ids)}
    return replace(
        snap, state="",
        ready_tasks=[replace(t, id=index[t.id]) for t in snap.ready_tasks],
        timers=[replace(t, task_id=index[t.task_id]) for t in snap.timers],
        steps=[replace(s, id=index[s.id]) for s in snap.steps])


def build_template(first: InstanceSnapshot, first_values: Mapping[str, Any], second: InstanceSnapshot,
                   second_values: Mapping[str, Any], varying: Sequence[str]) -> StartTemplate | None:
    """The template of ``first`` if stamping it with ``second_values`` gives ``second`` (else None).

    Both are real starts of the same spec with the same common data; the check compares the states
    (normalized), the process data and what the projections read (ready tasks and their properties,
    timers, steps).
    """
    if any(first_values[key] == second_values[key] for key in varying):
        return None  # a value both share could hide a slot: it proves nothing about that key
    parts, count = _slotted(first.state, first_values, varying)
    if sum(1 for n, part in enumerate(parts) if n % 2 and not part.startswith("#")) < len(varying):
        return None  # a varying value the state does not hold as written cannot be stamped
    ids = _task_ids(json.loads(first.state))
    template = StartTemplate(parts=parts, task_ids=count, snapshot=_slot_ids(first, ids), varying=tuple(varying))
    stamped = template.stamp(second_values)
    if normalized(stamped.state) != normalized(second.state) or stamped.data != second.data:
        return None
    return template if _same_projection(stamped, second) else None


def _same_projection(a: InstanceSnapshot, b: InstanceSnapshot) -> bool:
    """Equal apart from task ids (which are positional): what the task, timer and timeline rows read."""
    def ready(s: InstanceSnapshot) -> list[ReadyTask]:
        return [replace(t, id="") for t in s.ready_tasks]

    def timers(s: InstanceSnapshot) -> list[WaitingTimer]:
        return [replace(t, task_id="") for t in s.timers]

    def steps(s: InstanceSnapshot) -> list[CompletedStep]:
        return [replace(t, id="") for t in s.steps]

    return (ready(a) == ready(b) and timers(a) == timers(b) and steps(a) == steps(b)
            and (a.completed, a.end_event, a.serializer_version) == (b.completed, b.end_event, b.serializer_version))


def prepare(start: Any, spec_key: str, spec_json: SpecJson, common: dict[str, Any],
            samples: Sequence[Mapping[str, Any]], now: datetime | None) -> StartTemplate | None:
    """Run ``start`` (``runtime.start_instance``) for the first two samples and build their template."""
    varying = sorted(samples[0])
    first = start(spec_key, spec_json, {**common, **samples[0]}, now=now)
    second = start(spec_key, spec_json, {**common, **samples[1]}, now=now)
    return build_template(first, samples[0], second, samples[1], varying)
