"""Which channels a user's notifications go to, and the words that may leave the platform on each.

Every notification is in the app (its record, with the unread badge); besides, each kind of notification
goes to the channels the user chose for it: ``email`` (as ``email_frequency`` says: one mail each or the
daily digest), ``sms`` (the county's SMS gateway) and ``chat`` (the user's work-chat robot). The choice
lives on the user row (``User.notify_channels``), so ``bulk.notify_many`` decides from the users it was
handed and costs no extra statement for people who chose nothing new.

A message on an outside channel names no child: a public carrier or a chat vendor's cloud is not the
county's. Unless the channel is configured as secure (``LIANDONG_SMS_SECURE``, ``LIANDONG_CHAT_SECURE_PREFIXES``)
it carries the kind of notification, the case number and the link to the task, never the title or body
(a conference title or a report's situation may name the child).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from app.org.models import User

from .models import Notification

EMAIL, SMS, CHAT = "email", "sms", "chat"
CHANNELS = (EMAIL, SMS, CHAT)
"""Channels a user can choose besides the app itself (always on: it is the record)."""
OUTSIDE = (SMS, CHAT)
"""Channels sent through ``Delivery`` rows by the ``notify`` queue (email has its outbox)."""
ANY_KIND = "*"
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
"""Matched whole (``fullmatch``: ``$`` would let a trailing newline through)."""
MAX_KINDS = 40

KINDS = ("new_task", "task_reassigned", "remind", "overdue", "coordinator", "escalation", "task_unrouted",
         "report_added", "police_handled", "conference", "reporting_finding", "village_verified")
"""Kinds the preferences page lists (ladders may name more steps; ``*`` covers every kind not listed)."""

KIND_WORDS = {"new_task": "新任务", "task_reassigned": "任务转交给您", "remind": "任务即将到期",
              "overdue": "任务已逾期", "coordinator": "逾期任务已上报协调员", "task_unrouted": "任务无承办单位",
              "report_added": "案件有新的报告", "police_handled": "公安机关已处置案件", "conference": "个案会商邀请",
              "escalation": "逾期任务已进一步上报", "reporting_finding": "强制报告未及时履行",
              "village_verified": "村级季度核查已报送"}
"""The Chinese words an outside message uses for each kind (messages go out in the county's language)."""


class PreferenceError(ValueError):
    """A choice the platform refuses (unknown channel, a channel the deployment does not offer)."""


@dataclass(frozen=True)
class Preferences:
    """A user's channels per kind (``*``: every other kind) and whether quiet hours hold outside messages."""

    kinds: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {ANY_KIND: (EMAIL,)})
    quiet: bool = True

    @classmethod
    def of(cls, user: User) -> Preferences:
        raw = user.notify_channels or {}
        kinds = {str(k): tuple(c for c in v if c in CHANNELS) for k, v in (raw.get("kinds") or {}).items()
                 if isinstance(v, list)}
        kinds.setdefault(ANY_KIND, (EMAIL,))
        return cls(kinds, bool(raw.get("quiet", True)))

    def channels_for(self, kind: str) -> tuple[str, ...]:
        return self.kinds.get(kind, self.kinds.get(ANY_KIND, (EMAIL,)))

    def as_json(self) -> dict[str, Any]:
        return {"kinds": {k: list(v) for k, v in sorted(self.kinds.items())}, "quiet": self.quiet}


def offered() -> tuple[str, ...]:
    """The channels this deployment can send on: email always (it waits in the outbox without a server),
    SMS with a gateway, work chat with at least one allowed robot address prefix."""
    settings = current_app.config["LIANDONG"]
    return tuple(c for c in CHANNELS if c == EMAIL or (c == SMS and settings.sms_url)
                 or (c == CHAT and settings.chat_url_prefixes))


def parse_preferences(kinds: Mapping[str, Any], quiet: bool) -> Preferences:
    """The preferences a request asks for, or ``PreferenceError`` naming the first wrong entry."""
    if len(kinds) > MAX_KINDS:
        raise PreferenceError(f"at most {MAX_KINDS} kinds")
    allowed = offered()
    parsed: dict[str, tuple[str, ...]] = {}
    for kind, channels in kinds.items():
        if kind != ANY_KIND and not KIND_PATTERN.fullmatch(kind):
            raise PreferenceError(f"{kind[:40]!r} is not a kind of notification")
        if not isinstance(channels, (list, tuple)) or len(channels) > len(CHANNELS):
            raise PreferenceError(f"{kind}: a list of channels")
        for channel in channels:
            if channel not in CHANNELS:
                raise PreferenceError(f"{kind}: {str(channel)[:20]!r} is not a channel ({', '.join(CHANNELS)})")
            if channel not in allowed:
                raise PreferenceError(f"{kind}: this installation does not send by {channel}")
        parsed[kind] = tuple(dict.fromkeys(channels))
    parsed.setdefault(ANY_KIND, (EMAIL,))
    return Preferences(parsed, quiet)


def chat_address_problem(url: str) -> str | None:
    """Why a work-chat robot address is refused, or None: only under an allowed prefix (the platform posts
    to it, so a free address would let a user make the server call anything on its network)."""
    if len(url) > 2000 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "not a URL"
    prefixes = current_app.config["LIANDONG"].chat_url_prefixes
    if not any(url.startswith(prefix) for prefix in prefixes):
        return "not a work-chat robot address this installation allows (" + ", ".join(prefixes) + ")"
    return None


PHONE = re.compile(r"\+?[0-9]{6,15}")
"""Matched whole (``fullmatch``: with ``$`` a number ending in a newline was stored and sent on)."""


def phone_problem(phone: str) -> str | None:
    """Why a phone number is refused, or None (digits, an optional leading +, 6 to 15 of them)."""
    return None if PHONE.fullmatch(phone) else "a phone number: digits only, an optional leading +"


def is_secure(channel: str, address: str) -> bool:
    """Whether this channel and address may carry a case's title and text (the county's own systems)."""
    settings = current_app.config["LIANDONG"]
    if channel == SMS:
        return bool(settings.sms_secure)
    return any(address.startswith(prefix) for prefix in settings.chat_secure_prefixes)


def link(note: Notification) -> str:
    """The address of the task (or of the notification, which leads to its case) for a message; a path when
    ``LIANDONG_PUBLIC_URL`` is not set."""
    base = current_app.config["LIANDONG"].public_url
    adapter = current_app.url_map.bind("localhost")
    if note.task_id is not None:
        return base + adapter.build("inbox.task_page", {"task_id": note.task_id})
    return base + adapter.build("alerts.open_note", {"note_id": note.id})


def message_text(note: Notification, case_number: str | None, secure: bool) -> str:
    """What an outside channel says: without a secure channel the kind, the case number and the link."""
    if secure:
        parts = [f"【联动】{note.title}", note.body] if note.body else [f"【联动】{note.title}"]
    else:
        words = KIND_WORDS.get(note.kind, "新通知")
        parts = [f"【联动】{words}" + (f"（案件 {case_number}）" if case_number else "")]
    parts.append(f"请登录处理：{link(note)}")
    return "\n".join(parts)
