"""Human tasks: the projection of engine user tasks, inboxes, claim/complete, deadlines."""
