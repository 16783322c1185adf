"""Process definitions: immutable versions, deploy and validation, and running instances."""
