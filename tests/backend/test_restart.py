from support import bearer
import httpx


def test_live_backend_round_trip(live_backend):
    live_backend.post_events([{"kind": "worker_heartbeat", "worker_id": "w1", "cpu_percent": 12.5}])
    workers = live_backend.get("/api/monitoring/workers").json()
    assert [w["id"] for w in workers] == ["w1"]
    live_backend.stop()
    live_backend.start()
    again = httpx.get(f"{live_backend.url}/api/monitoring/workers", headers=bearer(live_backend.user_token))
    assert again.json()[0]["cpu"] == 12.5
