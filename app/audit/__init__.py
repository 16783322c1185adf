"""The audit log: who saw or changed which child's data, when and from where.

It sits just above ``org`` (it names users) and below everything that shows or changes a case, so any
module may write a row; it imports only ``common``, ``org``, ``engine`` and the extensions. Case files
live above it: the audit page reaches them through a ``CaseIndex`` handed in at app creation
(``app.audit.views.init_app``), never by import.
"""
