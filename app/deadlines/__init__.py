"""Deadlines: the county's working calendar, deadline arithmetic, escalation ladders, escalation, the sweep.

Above ``tasks`` (it reads and stamps task rows) and below ``workflow`` (the command service asks it for a
new task's due time and ladder): it may import tasks, cases, notifications, processes' models, org, audit,
common and engine, never the workflow or the feature modules. Those reach it through
``escalation.register_audience`` (the conference team) and the functions they call.
"""
