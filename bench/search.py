#!/usr/bin/env python
"""Finding a child at county scale: p50 of each kind of search, as ratios to a trivial API call.

    .venv/bin/python bench/search.py                        # 10,000 and 100,000 children
    .venv/bin/python bench/search.py --sizes 2000 20000 --repeat 30

Uses the PostgreSQL database BENCH_DATABASE_URL (default ``bench_search``; created if missing, its public
schema reset for each size). The demo county is loaded, then ``size`` children are generated with
INSERT ... SELECT generate_series over the demo's villages (names from 40 surnames and 60 given-name
characters, so a two-character given name matches about 1 child in 3,600; an ID number, a guardian with a
phone, one protection case each with its number; a third tagged left-behind).

Measured through the Flask test client with a bearer token, ``--repeat`` times after 3 warm-up calls, as
the county coordinator (basis: the county) and a village child director (basis: one village):
``GET /api/v1/me`` (the baseline: authentication and one row) and ``GET /api/v1/children`` with each
kind of term. Then the same name searches once more with a pg_trgm GIN index on ``child.name``, to show
what a trigram index does for two-character Chinese name parts. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_search")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
GIVEN = "小明红华军芳伟丽强敏静杰娟涛艳勇超秀霞平刚桂英玉兰萍鹏飞云海燕宇浩然欣怡子涵梓轩睿博文佳琪思雨晨阳雪婷嘉豪宏亮"


def _engine() -> Any:
    return sa.create_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://", 1))


def ensure_database() -> None:
    base, name = DB_URL.rsplit("/", 1)
    admin = sa.create_engine((base + "/postgres").replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def reset_schema() -> None:
    engine = _engine()
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


GENERATE = """
WITH villages AS (
  SELECT v.id, v.parent_id AS township, t.parent_id AS county, row_number() OVER (ORDER BY v.id) - 1 AS k
  FROM region v JOIN region t ON t.id = v.parent_id JOIN region c ON c.id = t.parent_id
  WHERE v.level = 'village' AND c.code = 'c01'),
nv AS (SELECT count(*) AS n FROM villages),
rows AS (
  SELECT g, (SELECT id FROM villages WHERE k = g % (SELECT n FROM nv)) AS village_id,
         (SELECT county FROM villages WHERE k = g % (SELECT n FROM nv)) AS county_id
  FROM generate_series(1, :size) AS g)
INSERT INTO child (name, sex, birth_date, id_number, id_number_norm, county_id, village_id, address, tags,
                   created_at)
SELECT substr(:surnames, 1 + g % 40, 1) || substr(:given, 1 + (g / 40) % 60, 1)
         || substr(:given, 1 + (g / 2400) % 60, 1),
       CASE WHEN g % 2 = 0 THEN 'male' ELSE 'female' END,
       DATE '2010-01-01' + (g % 5000),
       '3701' || lpad(g::text, 14, '0'), '3701' || lpad(g::text, 14, '0'), county_id, village_id, '',
       CASE WHEN g % 3 = 0 THEN '["left_behind"]'::jsonb ELSE '[]'::jsonb END, now()
FROM rows
"""


def generate(db: Any, size: int) -> None:
    db.session.execute(sa.text(GENERATE), {"size": size, "surnames": SURNAMES, "given": GIVEN})
    db.session.execute(sa.text(
        "INSERT INTO guardian (child_id, name, relation, phone, phone_digits, working_away, lives_with_child) "
        "SELECT id, '家长', 'father', '139' || lpad(id::text, 8, '0'), '139' || lpad(id::text, 8, '0'), true, false "
        "FROM child"))
    db.session.execute(sa.text(
        "INSERT INTO case_file (number, child_id, region_id, kind, title, situation, status, opened_at) "
        "SELECT 'LD2026' || lpad(id::text, 6, '0'), id, village_id, 'protection', '', 'living_alone', "
        "CASE WHEN id % 4 = 0 THEN 'closed' ELSE 'open' END, now() FROM child"))
    db.session.execute(sa.text("ANALYZE child; ANALYZE guardian; ANALYZE case_file"))
    db.session.commit()


def p50(fn: Any, repeat: int) -> float:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(size: int, repeat: int) -> dict[str, float]:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.org.demo import load_demo
    from app.org.operations import issue_token
    from app.org.queries import user_by_username

    reset_schema()
    app = create_app({"database_url": DB_URL, "instance_dir": Path(tempfile.mkdtemp(prefix="liandong-bench-")),
                      "secret_key": "bench", "redis_url": None})
    client = app.test_client()
    with app.app_context():
        upgrade()
        load_demo()
        db.session.commit()
        start = time.perf_counter()
        generate(db, size)
        print(f"\n{size:,} children generated in {time.perf_counter() - start:.1f} s")
        tokens = {u: issue_token(user_by_username(u)) for u in ("coordinator", "director_t01v01")}  # type: ignore[arg-type]
        db.session.commit()
        some = db.session.execute(sa.text(
            "SELECT c.name, c.id_number, g.phone, f.number FROM child c JOIN guardian g ON g.child_id = c.id "
            "JOIN case_file f ON f.child_id = c.id WHERE c.id = :i"), {"i": size // 2}).one()
    name, id_number, phone, number = some
    given = name[1:]
    searches = {
        "baseline GET /api/v1/me": "/api/v1/me",
        "name part (2 chars)": f"/api/v1/children?name={given}",
        "surname (1 char)": f"/api/v1/children?name={name[0]}&per_page=20",
        "ID number": f"/api/v1/children?id_number={id_number}",
        "guardian phone": f"/api/v1/children?guardian_phone={phone}",
        "case number": f"/api/v1/children?case_number={number}",
        "tag, page 1": "/api/v1/children?tag=left_behind&per_page=20",
        "q = name part": f"/api/v1/children?q={given}",
        "cases, q = name": f"/api/v1/cases?q={given}&status=open",
    }
    results: dict[str, float] = {}
    for user, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        for label, url in searches.items():
            def call(url: str = url, headers: dict[str, str] = headers) -> None:
                resp = client.get(url, headers=headers)
                assert resp.status_code == 200, (url, resp.status_code, resp.get_json())
            results[f"{user:16} {label}"] = p50(call, repeat)
        total = client.get(f"/api/v1/children?name={given}", headers=headers).get_json()["total"]
        print(f"  {user}: '{given}' finds {total}")
    with app.app_context():
        db.session.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        db.session.execute(sa.text("CREATE INDEX bench_trgm ON child USING gin (name gin_trgm_ops)"))
        db.session.execute(sa.text("ANALYZE child"))
        db.session.commit()
        trigrams = db.session.execute(sa.text("SELECT show_trgm(:g)"), {"g": given}).scalar()
        plan = db.session.execute(sa.text("EXPLAIN SELECT id FROM child WHERE name LIKE :p"),
                                  {"p": f"%{given}%"}).scalars().all()
        print(f"  pg_trgm: show_trgm('{given}') = {trigrams}; plan: {plan[0].strip()}")
    headers = {"Authorization": f"Bearer {tokens['coordinator']}"}
    for label, url in (("name part (2 chars)", f"/api/v1/children?name={given}"),
                       ("q = name part", f"/api/v1/children?q={given}")):
        results[f"{'coordinator':16} {label} + pg_trgm"] = p50(
            lambda url=url: client.get(url, headers=headers), repeat)
    base = {u: results[f"{u:16} baseline GET /api/v1/me"] for u in tokens}
    for label, ms in results.items():
        user = label.split()[0]
        print(f"  {label:48} p50 {ms:8.2f} ms   ratio to /me {ms / base[user]:6.2f}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    ensure_database()
    print(f"bench/search.py  {datetime.now(UTC).isoformat(timespec='seconds')}  {DB_URL}  "
          f"load average {os.getloadavg()[0]:.2f}")
    runs = [measure(size, args.repeat) for size in args.sizes]
    if len(runs) > 1:
        print(f"\np50 at {args.sizes[-1]:,} / p50 at {args.sizes[0]:,} children (load average "
              f"{os.getloadavg()[0]:.2f}):")
        for label in runs[0]:
            print(f"  {label:48} ratio {runs[-1][label] / runs[0][label]:6.2f}")


if __name__ == "__main__":
    main()
