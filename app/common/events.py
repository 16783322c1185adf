"""Domain events: how a lower package causes work in a higher one without importing it.

Every signal the app sends is declared here, at the bottom layer, so any package can send or
subscribe. A lower package sends (cases, tasks, deadlines, workflow); a higher one subscribes in its
``receivers.connect()``, which ``create_app`` calls once (nothing connects at import time).

All signals are sent **inside the command's transaction, before commit**: receivers only change rows in
``db.session`` and flush if they must; they never commit. A receiver that raises rolls the whole
command back (the caller's error handler answers 4xx/5xx as for any failure of the command). blinker
calls receivers in no guaranteed order, so no receiver may depend on another having run.

Why blinker: Flask already depends on it, the signals are plain named objects with ``send``/``connect``,
and receivers are held weakly (module-level functions live as long as their module).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from blinker import Namespace, Signal

_events = Namespace()
R = TypeVar("R", bound=Callable[..., Any])


def only_when(wanted: Callable[[], bool]) -> Callable[[R], R]:
    """Mark a receiver that wants its signal only while ``wanted()`` holds (webhooks: while someone subscribes
    to the kind), so a sender that must build costly arguments can skip them (``listening``)."""

    def mark(receiver: R) -> R:
        receiver.liandong_wanted = wanted  # type: ignore[attr-defined]
        return receiver

    return mark


def listening(signal: Signal) -> bool:
    """Whether sending ``signal`` now would reach a receiver that wants it: one connected without
    ``only_when``, or one whose condition holds. A sender loading objects only for receivers asks this."""
    for ref in list(signal.receivers.values()):
        receiver = ref() if isinstance(ref, weakref.ref) else ref  # blinker holds weak references by default
        if receiver is None:
            continue
        wanted = getattr(receiver, "liandong_wanted", None)
        if wanted is None or wanted():
            return True
    return False

report_accepted = _events.signal("report-accepted")
"""A report was filed and its protection case created (``cases.operations.accept_report``).

Sender: the new ``Case``; ``report=`` the ``Report``, ``process_key=`` the process the case runs,
``data=`` the start data, ``actor=`` the filer (``User`` or None). Sent after the case, report, timeline
entry and audit row are added and flushed. The workflow starts the case's process on it; raising
``Conflict`` (process not deployed) refuses the report.
"""

report_added = _events.signal("report-added")
"""A report about a child whose protection case is open was added to that case (no new case, no new process).

Sender: the open ``Case``; ``report=`` the new ``Report``, ``actor=`` the filer (``User`` or None). Sent by
``cases.operations.file_report`` after the report, its ``report_added`` timeline entry and audit row are
added and flushed. The tasks package tells the units working the case.
"""

children_merged = _events.signal("children-merged")
"""A coordinator merged one child's file into another's (``cases.merging.merge``).

Sender: the ``ChildMerge`` row (flushed: its id, ``kept_id``, ``merged_id`` and ``case_ids`` set);
``actor=`` the coordinator. Sent after the cases are re-pointed, before the audit row. Packages holding rows
about the merged child re-point them to the kept one and list their ids in ``merge.moved[table]``, so that
``children_unmerged`` can put exactly those back. The duties package moves programme membership, duty
cycles and entrusted care.
"""

children_unmerged = _events.signal("children-unmerged")
"""A merge was undone (``cases.merging.unmerge``). Sender: the ``ChildMerge`` row; ``actor=``. Sent inside the
coordinator's request transaction, after cases has put its cases back and flushed, before the audit row and
the commit. Receivers put back the rows listed in ``merge.moved``.
"""

finding_recorded = _events.signal("finding-recorded")
"""A coordinator recorded that a mandatory reporter failed or delayed reporting (``cases.findings.record``).

Sender: the ``ReportingFinding`` (flushed: its id and ``supervising_unit`` set); ``actor=`` the coordinator.
Sent inside the coordinator's request transaction after the audit row is added, before the commit. The tasks
package tells the supervising unit's liaisons and heads (the finding is in their unit's findings list).
"""

instance_saved = _events.signal("instance-saved")
"""A workflow command put the engine's new state on an instance row (start, complete, timers).

Sender: the ``ProcessInstance``; ``case=`` its ``Case``, ``data=`` the process data after the step (as
the engine returned it), ``actor=`` the user or None. Sent before the task and timer projections are
rebuilt and before the flush. The cases package copies the grade and help tier the process decided onto the case.
"""

instance_completed = _events.signal("instance-completed")
"""An instance reached an end event in this command (sent once per instance).

Sender: the ``ProcessInstance`` (status already ``completed``); ``case=``, ``actor=``, ``end_event=``
(its BPMN id), ``end_name=`` (its name or ""), ``last_of_case=`` (True when no other instance of the case
is still running). Sent after the projections are rebuilt, before the flush. Cases closes a protection
case on it; duties settles the cycle the instance ran.
"""

case_closed = _events.signal("case-closed")
"""A case was closed (its last running instance ended).

Sender: the ``Case`` (status already ``closed``); ``instance=`` the instance whose end closed it,
``actor=``. Sent by ``cases.receivers`` after the ``case_closed`` timeline entry is added, before the flush.
"""

instances_started = _events.signal("instances-started")
"""A bulk start (``workflow.bulk.start_many``) started many instances of one version at once.

Sender: the ``ProcessSpec``; ``started=`` a list of ``workflow.bulk.Started`` (instance id, case id, the
process data, the ids of the tasks it opened), ``actor=``. Sent instead of ``instance_saved`` and
``task_opened`` per instance (no ORM object per row exists), after every row was added, before the flush.
A receiver of those two that must also see bulk starts subscribes here (cases takes a grade the
process data carries, as for ``instance_saved``).
"""

task_opened = _events.signal("task-opened")
"""A user task of an instance became ready and got its ``task`` row (routed, due time set, flushed).

Sender: the ``Task``; ``case=``, ``unit=`` (the ``Unit`` it was routed to, or None when unrouted). Sent
by the workflow's projection rebuild, after the unit's members were notified.
"""

task_completed = _events.signal("task-completed")
"""A user completed a task; the row is ``completed`` and the timeline says so (not yet flushed).

Sender: the ``Task``; ``case=``, ``actor=``, ``data=`` the validated form data. Sent by the workflow's
projection rebuild after the engine's new state is on the instance row, before the next tasks open.
"""

task_reassigned = _events.signal("task-reassigned")
"""A unit head handed an open task to another member of its unit (``tasks.operations.reassign``).

Sender: the ``Task`` (locked, its ``assignee`` already the new holder); ``case=``, ``by=`` the unit head,
``previous=`` the former holder or None. Sent right after the conditional update, before the timeline
entry, notification and audit row; nothing flushed yet. The deadlines package restarts the task's ladder
on it, so the steps still ahead address the new holder.
"""

task_overdue = _events.signal("task-overdue")
"""The escalation sweep took a ladder step that marks a task overdue (once per task and level).

Sender: the ``Task`` (locked by the sweep, still open); ``case=``, ``level=``, ``recipients=`` the users
notified. Sent inside the sweep's chunk transaction after its timeline entry and notifications are added.
"""
