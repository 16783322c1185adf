"""Organisation: regions, department kinds, units, users, roles and routing."""
