"""What the installable app costs the server: ``/sw.js`` (asked for on navigations, as the browser checks
for a new worker), ``/manifest.webmanifest`` and ``/offline``, against ``/healthz`` (one ``SELECT 1``) as
the baseline measured in the same run, interleaved so machine noise hits all alike. Real app on a scratch
SQLite database through the test client; signed out (the browser's update check sends the cookie, but the
worker script never reads the user's data, so the signed-out number is the script's own cost).

    .venv/bin/python bench/offline_shell.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402

PATHS = ("/healthz", "/sw.js", "/manifest.webmanifest", "/offline")


def main(rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="liandong-offline-"))
    app = create_app({"database_url": f"sqlite:///{tmp / 'db.sqlite'}", "instance_dir": tmp, "secret_key": "bench",
                      "testing": True, "redis_url": None, "inline_loop": False})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    client = app.test_client()
    times: dict[str, list[float]] = {path: [] for path in PATHS}
    for path in PATHS:  # warm-up: templates compiled, file revisions hashed once
        assert client.get(path).status_code == 200, path
    for _ in range(rounds):
        for path in PATHS:
            started = time.perf_counter()
            resp = client.get(path)
            resp.get_data()
            times[path].append((time.perf_counter() - started) * 1000)
            assert resp.status_code == 200, (path, resp.status_code)
    base = statistics.median(times["/healthz"])
    for path, samples in times.items():
        ordered = sorted(samples)
        median = statistics.median(samples)
        print(f"{path:24} median {median:6.2f} ms  p90 {ordered[len(ordered) * 9 // 10]:6.2f} ms  "
              f"x{median / base:5.2f} of /healthz  (n={len(samples)})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
