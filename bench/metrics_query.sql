-- The /metrics task query (app/dashboard/metrics_views.py: task_counts) over 1,000,000 synthetic task rows.
-- Run: psql postgresql://postgres@127.0.0.1:5432/<scratch db> -q -f bench/metrics_query.sql  (prints the time twice)
DROP TABLE IF EXISTS h5_task_bench;
CREATE TABLE h5_task_bench AS
SELECT g AS id,
       (ARRAY['police','township','civil_affairs','education','justice','health','village_committee','womens_federation'])[1 + g % 8] AS department_kind,
       CASE WHEN g % 10 < 7 THEN 'completed' WHEN g % 10 < 9 THEN 'open' ELSE 'cancelled' END AS state,
       now() - (g % 1000) * interval '1 hour' AS due_at,
       CASE WHEN g % 10 IN (7,8) THEN now() + ((g % 200) - 20) * interval '1 hour' END AS next_escalation_at
FROM generate_series(1, 1000000) g;
ANALYZE h5_task_bench;
\timing on
SELECT department_kind, count(*) FILTER (WHERE state = 'open') AS open,
       count(*) FILTER (WHERE state = 'open' AND due_at < now()) AS overdue,
       count(*) FILTER (WHERE state = 'completed') AS completed,
       min(next_escalation_at) FILTER (WHERE state = 'open' AND next_escalation_at <= now()) AS oldest
FROM h5_task_bench GROUP BY department_kind;
SELECT department_kind, count(*) FILTER (WHERE state = 'open') AS open,
       count(*) FILTER (WHERE state = 'open' AND due_at < now()) AS overdue,
       count(*) FILTER (WHERE state = 'completed') AS completed,
       min(next_escalation_at) FILTER (WHERE state = 'open' AND next_escalation_at <= now()) AS oldest
FROM h5_task_bench GROUP BY department_kind;
\timing off
DROP TABLE h5_task_bench;
