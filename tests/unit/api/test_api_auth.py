"""Every /api route needs a token with the right role: the test walks the app's routes, so a
new route cannot forget it. Schemathesis then fuzzes the OpenAPI schema with an admin token
and finds no server error."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from ivr.api import create_app
from ivr.call.record import CallRecord
from ivr.events import EventType as T
from ivr.events import make
from ivr.records import ROLES, Store

pytestmark = pytest.mark.unit
PUBLIC = {("GET", "/api/health"), ("POST", "/api/login"), ("POST", "/api/session")}
PASSWORD = "a long password"


def _app():  # type: ignore[no-untyped-def]
    store = Store(f"sqlite:///{Path(tempfile.mkdtemp(prefix='ivr-api-')) / 'ivr.sqlite3'}")
    for role in ROLES:
        store.users.add(role, role, PASSWORD)
    store.agents.add("ann", PASSWORD, ["billing"])
    rec = CallRecord("call-1", store.writer, caller={"number": "+447700900001"})
    rec(make("call-1", 0, T.CALL_START, sample_rate=8000))
    rec(make("call-1", 900, T.CALL_END, duration_ms=900))
    store.writer.flush()
    return create_app(store=store), store


APP, STORE = _app()
TOKENS = {role: STORE.users.login(role, PASSWORD, 3600) for role in ROLES}


ROUTE_ROLES = {
    "GET /api/me": "agent",
    "POST /api/logout": "agent",
    "POST /api/softphone/credential": "agent",
    "POST /api/softphone/state": "agent",
    "GET /api/transfer/targets": "agent",
    "POST /api/calls/{call_id}/transfer": "agent",
    "GET /api/transfers/{transfer_id}": "agent",
    "GET /api/sip": "supervisor",
    "GET /api/dialplan": "supervisor",
    "POST /api/dialplan/reload": "admin",
    "GET /api/calls": "supervisor",
    "GET /api/calls/{call_id}": "supervisor",
    "GET /api/export/calls.csv": "supervisor",
    "GET /api/agents": "supervisor",
    "POST /api/agents/{name}/state": "agent",
    "GET /api/agents/{name}/offer": "agent",
    "DELETE /api/session": "agent",
    "GET /api/agents/{name}/calls": "agent",
    "POST /api/agents/{name}/wrapup": "agent",
    "GET /api/floor": "supervisor",
    "GET /api/kb/candidates": "supervisor",
    "POST /api/kb/candidates/{candidate_id}/approve": "supervisor",
    "POST /api/kb/candidates/{candidate_id}/reject": "supervisor",
    "GET /api/kb/entries": "supervisor",
    "GET /api/kb/entries/{key}": "supervisor",
    "PATCH /api/kb/entries/{key}": "supervisor",
    "DELETE /api/kb/entries/{key}": "supervisor",
    "POST /api/kb/entries/{key}/rollback": "supervisor",
    "GET /api/kb/export.yaml": "supervisor",
    "GET /api/qa/queue": "supervisor",
    "GET /api/qa/form": "supervisor",
    "GET /api/qa/calls/{call_id}": "supervisor",
    "POST /api/qa/calls/{call_id}/review": "supervisor",
    "GET /api/report": "supervisor",
    "GET /api/report/{table}.csv": "supervisor",
    "GET /api/calls/{call_id}/recording": "supervisor",
    "GET /api/calls/{call_id}/monitor": "supervisor",
    "POST /api/calls/{call_id}/monitor": "supervisor",
    "PATCH /api/calls/{call_id}/monitor": "supervisor",
    "DELETE /api/calls/{call_id}/monitor": "supervisor",
    "GET /api/calls/{call_id}/upset": "agent",
    "POST /api/calls/{call_id}/upset": "agent",
    "GET /api/radar": "supervisor",
    "GET /api/radar/versions/{version}": "supervisor",
    "POST /api/radar/retrain": "admin",
    "POST /api/radar/versions/{version}/approve": "admin",
    "POST /api/radar/versions/{version}/reject": "admin",
    "POST /api/radar/rollback": "admin",
    "PUT /api/radar/budget": "admin",
}
"""The role each route needs. A route the OpenAPI schema lists and this table does not is a
failure: whoever adds a route says here who may call it, and the test holds the app to it."""


def api_routes() -> list[tuple[str, str]]:
    paths = APP.openapi()["paths"]
    return sorted((m.upper(), p) for p, ops in paths.items() if p.startswith("/api") for m in ops)


def test_every_api_route_is_public_or_has_a_role():
    routes = {f"{m} {p}" for m, p in api_routes()}
    undeclared = routes - set(ROUTE_ROLES) - {f"{m} {p}" for m, p in PUBLIC}
    assert not undeclared, f"routes with no role in ROUTE_ROLES: {sorted(undeclared)}"
    assert set(ROUTE_ROLES) <= routes


@pytest.mark.parametrize("method,path", api_routes(), ids=[f"{m} {p}" for m, p in api_routes()])
def test_no_token_is_401_and_the_wrong_role_is_403(method, path):
    if (method, path) in PUBLIC:
        return
    role = ROUTE_ROLES[f"{method} {path}"]
    client = TestClient(APP)
    url = path.replace("{call_id}", "call-1").replace("{name}", "agent")
    r = client.request(method, url)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text
    r = client.request(method, url, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    for lower in ROLES[: ROLES.index(role)]:
        r = client.request(method, url, headers={"Authorization": f"Bearer {TOKENS[lower]}"})
        assert r.status_code == 403 and role in r.json()["detail"], (lower, r.text)
    if path == "/api/logout":
        return
    r = client.request(method, url, headers={"Authorization": f"Bearer {TOKENS[role]}"})
    assert r.status_code not in (401, 403), r.text


def test_login_answers_a_token_that_opens_the_api_and_a_wrong_password_does_not():
    client = TestClient(APP)
    assert client.post("/api/login", json={"user": "admin", "password": "wrong"}).status_code == 401
    assert client.post("/api/login", json={"user": "nobody", "password": PASSWORD}).status_code == 401
    assert client.post("/api/login", json={"user": "admin"}).status_code == 422
    token = client.post("/api/login", json={"user": "supervisor", "password": PASSWORD}).json()["token"]
    calls = client.get("/api/calls", headers={"Authorization": f"Bearer {token}"}).json()["calls"]
    assert [c["id"] for c in calls] == ["call-1"]
    assert client.post("/api/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert client.get("/api/calls", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_password_guessing_is_throttled():
    client = TestClient(create_app(store=STORE))  # an app of its own: its own failure counts
    for _ in range(5):
        assert client.post("/api/login", json={"user": "agent", "password": "guess"}).status_code == 401
    r = client.post("/api/login", json={"user": "agent", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert client.post("/api/login", json={"user": "admin", "password": PASSWORD}).status_code == 200


def test_an_agent_sets_their_own_state_and_a_supervisor_anyones():
    client = TestClient(APP)
    ann = client.post("/api/login", json={"user": "ann", "password": PASSWORD}).json()["token"]
    as_ann = {"Authorization": f"Bearer {ann}"}
    r = client.post("/api/agents/ann/state", json={"state": "available"}, headers=as_ann)
    assert r.status_code == 200 and r.json()["state"] == "available"
    assert client.post("/api/agents/ann/state", json={"state": "on_call"}, headers=as_ann).status_code == 422
    sup = {"Authorization": f"Bearer {TOKENS['supervisor']}"}
    r = client.post("/api/agents/ann/state", json={"state": "away", "reason": "coaching"}, headers=sup)
    assert r.json()["reason"] == "coaching"
    assert client.post("/api/agents/nobody/state", json={"state": "away"}, headers=sup).status_code == 404
    listed = client.get("/api/agents", headers=sup).json()["agents"]
    assert [(a["name"], a["state"]) for a in listed] == [("ann", "away")]


schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_has_no_server_error(case):
    if case.path == "/api/logout":
        return  # would end the token the other cases use
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKENS['admin']}"}, checks=[not_a_server_error]
    )


@pytest.mark.parametrize("transfer_id", ["9223372036854775808", "0", "-1", "abc"])
def test_a_transfer_number_out_of_range_is_a_clear_error_not_a_crash(transfer_id):
    r = TestClient(APP).get(
        f"/api/transfers/{transfer_id}", headers={"Authorization": f"Bearer {TOKENS['admin']}"}
    )
    assert r.status_code == 422 and "transfer_id" in r.text, r.text
    assert (
        TestClient(APP)
        .get("/api/transfers/12345", headers={"Authorization": f"Bearer {TOKENS['admin']}"})
        .status_code
        == 404
    )


def test_the_store_away_is_a_503_with_retry_after_not_a_500():
    """PostgreSQL restarting: every route that needs the store says to try again shortly."""
    from ivr.records import Store
    from tests.sip_helpers import free_port

    away = Store(
        f"postgresql+psycopg://ivr@127.0.0.1:{free_port()}/ivr", migrate_schema=False
    )  # nobody listens
    try:
        client = TestClient(create_app(store=away), raise_server_exceptions=False)
        r = client.post("/api/login", json={"user": "ann", "password": "correct horse battery"})
        assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
        r = client.get("/api/calls", headers={"Authorization": "Bearer some-token"})
        assert r.status_code == 503 and "try again" in r.json()["detail"]
        assert client.get("/api/health").status_code == 200  # health needs no store
    finally:
        away.close()
