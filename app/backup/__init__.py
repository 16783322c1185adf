"""Backups: one archive holding the database, the attachments and the secret key (docs/operations.md, "Backups").

``archive`` writes and checks archives, ``databases`` dumps and restores each database kind with its own tools,
``retention`` decides which archives a prune keeps, ``cli`` is ``flask backup``.
"""
