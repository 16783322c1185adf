"""The county coordinator's dashboard: overdue work by department and township, ageing, escalations,
on-time rates, a trend, drill-down to the tasks, and audited CSV / XLSX exports."""
