"""The audit log: who saw or changed which child's data, when and from where.

It sits at the bottom, just below ``org``, so that every operation that changes data may write its row
(``org``'s account administration too): it imports only ``common``, ``engine`` and the extensions. Users and case files are referenced by id; the audit page (an entry point)
looks users up itself and reaches case files through a ``CaseIndex`` handed in at app creation
(``app.audit.views.init_app``).
"""
