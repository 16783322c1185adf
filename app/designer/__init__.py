"""The process designer (a feature above the catalogue): drafts, forms, test runs and their pages and API.

URLs are unchanged: the pages stay on the ``designer`` blueprint at ``/designer``, the API routes on the
catalogue's ``processes`` API blueprint at ``/api/v1/processes`` (``api.py`` adds them there). Deploying,
versions and validation are ``app.processes``; migrating running instances is ``app.workflow``.
"""
