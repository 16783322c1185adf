"""The child's file (一人一档), intake reports, cases, timeline, access policy and audit."""
