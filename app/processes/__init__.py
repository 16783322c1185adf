"""The process catalogue: process models, immutable versions and specs, deploy and validation, instance rows.

The designer (drafts, test runs, its pages) is the feature package `app.designer`; running instances are
advanced only by the workflow commands."""
