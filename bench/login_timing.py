"""Sign-in answer times: a known name with a wrong password, an unknown name, an inactive user.

They should be indistinguishable (each verifies one argon2 hash). Runs the real app on a scratch
SQLite database through the test client; limits are lifted so throttling does not end the run.

    .venv/bin/python bench/login_timing.py [ROUNDS]
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402


def main(rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="liandong-login-"))
    app = create_app({"database_url": f"sqlite:///{tmp / 'db.sqlite'}", "instance_dir": tmp, "secret_key": "bench",
                      "testing": True, "redis_url": None, "inline_loop": False,
                      "login_limit_per_attempt": "100000 per minute", "login_limit_per_address": "100000 per minute",
                      "login_limit_per_account": "100000 per minute"})
    from flask_migrate import upgrade

    from app.org.operations import create_user
    from app.org.roles import Role

    with app.app_context():
        upgrade()
        create_user("known", "Known", "right-password", {Role.REPORTER})
        create_user("inactive", "Inactive", "right-password", {Role.REPORTER}).active = False
        db.session.commit()
    cases = {"known name, wrong password": ("known", "wrong-password"),
             "unknown name": ("nobody", "wrong-password"),
             "inactive user, right password": ("inactive", "right-password")}
    times: dict[str, list[float]] = {label: [] for label in cases}
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    for _ in range(rounds):
        for label, (username, password) in cases.items():  # interleaved: machine noise hits all alike
            started = time.perf_counter()
            resp = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": token.group(1)})
            times[label].append((time.perf_counter() - started) * 1000)
            assert resp.status_code == 200, resp.status_code
    for label, samples in times.items():
        print(f"{label:32} median {statistics.median(samples):6.1f} ms  "
              f"p10 {sorted(samples)[len(samples) // 10]:6.1f}  p90 {sorted(samples)[len(samples) * 9 // 10]:6.1f}"
              f"  (n={len(samples)})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
