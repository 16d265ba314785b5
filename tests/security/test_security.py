"""Security properties a user relies on: where it listens, tenant isolation, the admin token,
safe YAML, and scenario names that are never paths."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mock_sprinto.cli import banner
from mock_sprinto.faults.scenario import ScenarioError, load_scenario_file, shipped_scenarios
from mock_sprinto.http import create_app
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Integration, Settings, SettingsError, load_config

from ..helpers import API, Control, Vendor, user

PACKAGE = Path(__file__).resolve().parents[2] / "mock_sprinto"


# ---- where it listens --------------------------------------------------------------------
def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on ``port``, from /proc (hex, as the kernel writes them)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def test_serve_binds_loopback_by_default_and_says_so_without_a_warning(tmp_path: Path) -> None:
    assert Settings().host == "127.0.0.1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SPRINTO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_sprinto", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        found = re.search(r"base URL\s+http://127\.0\.0\.1:(\d+)/", text)
        assert found, text
        assert "WARNING" not in text
        if os.path.exists("/proc/net/tcp"):
            assert _listening_addresses(int(found.group(1))) == {"0100007F"}  # 127.0.0.1, nothing else
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_get_no_warning(emulator: Emulator, host: str) -> None:
    assert "WARNING" not in banner(host, 8080, emulator)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "example.com"])
def test_any_other_host_is_warned_about_on_the_second_line(emulator: Emulator, host: str) -> None:
    second = banner(host, 8080, emulator).splitlines()[1]
    assert "WARNING" in second and "reachable from other machines" in second


# ---- tenant isolation --------------------------------------------------------------------
async def test_one_integrations_key_never_reads_or_changes_anothers_sessions(client: Any, control: Control) -> None:
    alice, bob = Vendor(client, "alice", "alice-key"), Vendor(client, "bob", "bob-key")
    bobs = await bob.start(json={"client_reference_id": "bob-secret-ref"})
    await bob.push(bobs["id"], {"entities": {"User": [user(1)]}})
    before = (await control.sessions("bob"))[0]

    answers = []
    # Alice's key on Bob's paths: refused without saying whether Bob or the session exists.
    impostor = Vendor(client, "bob", "alice-key")
    for method, tail in (
        ("GET", f"/sessions/{bobs['id']}"),
        ("POST", "/sessions"),
        ("GET", "/status"),
        ("GET", "/activity"),
        ("POST", f"/sessions/{bobs['id']}/close"),
    ):
        answers.append(await impostor.call(method, tail, 401))
    # Bob's session id on Alice's own paths: not found, exactly like an id that never existed.
    await alice.start()
    for method, tail in (
        ("GET", f"/sessions/{bobs['id']}"),
        ("POST", f"/sessions/{bobs['id']}/close"),
        ("POST", f"/sessions/{bobs['id']}/entities"),
    ):
        kwargs = {"json": {"entities": {"User": [user(9)]}}} if tail.endswith("entities") else {}
        answers.append(await alice.call(method, tail, 404, **kwargs))
    _, never = await alice.call("GET", "/sessions/ses_000000000000000000000000", 404)
    _, foreign = await alice.call("GET", f"/sessions/{bobs['id']}", 404)
    assert never["code"] == foreign["code"] == "session_not_found"
    assert never["detail"].replace("ses_000000000000000000000000", "X") == foreign["detail"].replace(bobs["id"], "X")

    after = (await control.sessions("bob"))[0]
    assert after == before  # not touched: same state, same last request, same pages
    for _, body in answers:
        text = str(body)
        assert "bob-key" not in text and "alice-key" not in text and "bob-secret-ref" not in text
    alice_view = str(await alice.status()) + str(await alice.activity())
    assert bobs["id"] not in alice_view and "bob-secret-ref" not in alice_view


async def test_an_unknown_integration_and_a_wrong_key_get_the_same_answer(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator((Integration("acme", "right-key"),)))  # declared mode: no auto-create
    _, wrong_key = await Vendor(client, "acme", "wrong").call("GET", "/status", 401)
    _, unknown = await Vendor(client, "nobody", "wrong").call("GET", "/status", 401)
    assert wrong_key["code"] == unknown["code"] == "invalid_api_key"
    assert wrong_key["detail"].replace("acme", "X") == unknown["detail"].replace("nobody", "X")
    assert "right-key" not in str(wrong_key)


async def test_the_journal_and_the_views_never_show_an_api_key(client: Any, control: Control) -> None:
    vendor = Vendor(client, "acme", "super-secret-key")
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    await Vendor(client, "acme", "guessed-key").call("GET", "/status", 401)
    views = [
        await control.journal(),
        await control.get("/integrations"),
        await control.get("/integrations/acme"),
        await control.sessions("acme"),
        await vendor.activity(),
    ]
    assert "super-secret-key" not in str(views) and "guessed-key" not in str(views)


async def test_one_tenants_control_calls_never_touch_another(client: Any, control: Control) -> None:
    alice, bob = Vendor(client, "alice", "a"), Vendor(client, "bob", "b")
    bobs = await bob.start()
    await alice.start()
    await control.advance(7200, "alice")  # alice's clock only
    assert (await bob.session(bobs["id"]))["state"] == "active"
    async with client.put("/_mock/integrations/alice/settings", json={"rate_limit": 0.001, "rate_limit_burst": 1}):
        pass
    await alice.status()
    await alice.call("GET", "/status", 429)
    assert (await bob.status())["sessions"]["active"] == 1  # bob is not throttled
    async with client.delete("/_mock/integrations/alice") as response:
        assert response.status == 204
    assert (await bob.session(bobs["id"]))["state"] == "active"


# ---- the admin token ---------------------------------------------------------------------
def _control_paths(emulator: Emulator) -> list[tuple[str, str]]:
    app = create_app(emulator)
    calls = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/_mock"):
            filled = path.replace("{integration_id}", "acme").replace("{session_id}", "ses_x")
            calls.append((route.method, filled.replace("{entity_type}", "User").replace("{page}", "index")))
    assert len(calls) > 20
    return calls


async def test_the_admin_token_guards_every_control_route_and_nothing_else(serve: Any, make_emulator: Any) -> None:
    emulator = make_emulator(admin_token="s3cret-token")
    client = await serve(emulator)
    for method, path in _control_paths(emulator):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            async with client.request(method, path, headers=headers) as response:
                body = await response.json()
                assert response.status == 401, (method, path, headers)
                assert body["code"] == "admin_token_required"
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert "s3cret-token" not in str(body)
        async with client.request(method, path, headers={"Authorization": "Bearer s3cret-token"}) as response:
            assert response.status != 401, (method, path)
    # The vendor API keeps its own auth and ignores the admin token entirely.
    async with client.post(f"{API}/acme/sessions", headers={"api-key": "k"}) as response:
        assert response.status == 201
    async with client.get("/_mock/settings", headers={"Authorization": "Bearer s3cret-token"}) as response:
        assert (await response.json())["settings"]["admin_token"] == "***"


async def test_a_tenants_settings_can_never_change_the_admin_token_or_where_it_listens(
    serve: Any, make_emulator: Any
) -> None:
    client = await serve(make_emulator(admin_token="tok"))
    auth = {"Authorization": "Bearer tok"}
    for name, value in (("admin_token", None), ("host", "0.0.0.0"), ("port", 1), ("schemas_dir", "/etc")):
        async with client.put("/_mock/integrations/acme/settings", json={name: value}, headers=auth) as response:
            assert response.status == 400, name
        scenario = {"name": "sneaky", "settings": {name: value}}
        async with client.put("/_mock/integrations/acme/scenario", json=scenario, headers=auth) as response:
            assert response.status == 400, name
    async with client.get("/_mock/health") as response:
        assert response.status == 401  # still guarded


# ---- YAML is data, never code ------------------------------------------------------------
PAYLOAD = '!!python/object/apply:os.system ["touch {marker}"]'


def test_a_config_file_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    config = tmp_path / "config.yaml"
    config.write_text(f"settings:\n  port: {PAYLOAD.format(marker=marker)}\n")
    with pytest.raises(SettingsError):
        load_config(config, env={})
    assert not marker.exists()


def test_a_scenario_file_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    scenario = tmp_path / "evil.yaml"
    scenario.write_text(f"name: evil\ndescription: {PAYLOAD.format(marker=marker)}\n")
    with pytest.raises(ScenarioError):
        load_scenario_file(scenario)
    assert not marker.exists()


def test_the_package_only_ever_loads_yaml_safely() -> None:
    unsafe = re.compile(
        r"yaml\.(load|load_all|full_load|unsafe_load|unsafe_load_all)\(|Loader=yaml\.(Unsafe|Full)?Loader\b"
    )
    offenders = [
        f"{path.name}:{n}"
        for path in PACKAGE.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if unsafe.search(line)
    ]
    assert offenders == []
    assert yaml.safe_load("a: 1") == {"a": 1}


# ---- scenario names are never paths ------------------------------------------------------
PATHS = [
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "..\\x",
    "scenarios/default",
    "default.yaml",
    "./default",
    "%2e%2e/default",
    "default\x00",
    "DEFAULT",
    " default",
    "default/",
    "~/x",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("name", PATHS)
async def test_a_scenario_name_that_looks_like_a_path_is_refused(client: Any, name: str) -> None:
    for path in ("/_mock/scenario", "/_mock/integrations/acme/scenario"):
        async with client.put(path, json=name) as response:
            body = await response.json()
            assert response.status == 400, (name, body)
            assert body["code"] == "invalid_scenario"
            assert "root:" not in str(body)  # nothing was read


async def test_a_real_scenario_file_outside_the_shipped_folder_is_not_loadable_by_name(
    client: Any, tmp_path: Path
) -> None:
    outside = tmp_path / "mine.yaml"
    outside.write_text("name: mine\n")
    for name in (str(outside), str(outside.with_suffix("")), os.path.relpath(outside)):
        async with client.put("/_mock/scenario", json=name) as response:
            assert response.status == 400, name
    async with client.get("/_mock/scenario") as response:
        assert (await response.json())["scenario"] is None


@given(name=st.text(max_size=40) | st.sampled_from(sorted(shipped_scenarios())))
def test_only_shipped_names_resolve(name: str) -> None:
    from mock_sprinto.faults.scenario import shipped_by_name

    try:
        scenario = shipped_by_name(name)
    except ScenarioError:
        assert name not in shipped_scenarios()
    else:
        assert name in shipped_scenarios() and scenario.name
