"""Hostile web pages (issue 11, items 3 and 4): a page on another site cannot change the emulator
through requests a browser sends without asking (no CORS preflight), and a DNS-rebinding name
(evil.example resolving to 127.0.0.1) is not served at all."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ..helpers import API, Vendor
from . import rawhttp

# What a browser can send cross-site without a preflight: these three media types, or no body.
SIMPLE_BODIES = [
    ("text/plain;charset=UTF-8", b'{"seconds": 60}'),
    ("application/x-www-form-urlencoded", b'{"seconds": 60}'),
    ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n'),
]


async def _clock_offset(client: Any) -> float:
    async with client.get("/_mock/clock") as response:
        return float((await response.json())["offset_seconds"])


@pytest.mark.parametrize(("media_type", "body"), SIMPLE_BODIES)
async def test_a_control_write_with_a_body_a_form_could_send_is_refused(
    client: Any, media_type: str, body: bytes
) -> None:
    for path in ("/_mock/clock/advance", "/_mock/integrations", "/_mock/integrations/acme/clock/advance"):
        async with client.post(path, data=body, headers={"Content-Type": media_type}) as response:
            problem = await response.json()
            assert response.status == 415, (path, problem)
            assert problem["code"] == "unsupported_media_type"
    async with client.put("/_mock/scenario", data=b'"rate-limited"', headers={"Content-Type": media_type}) as response:
        assert response.status == 415
    assert await _clock_offset(client) == 0
    async with client.get("/_mock/integrations") as response:
        assert (await response.json())["integrations"] == []  # none was created, not even the named one


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:3000"},  # another port on the same machine is another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
    ],
)
async def test_a_cross_site_request_changes_nothing(client: Any, headers: dict[str, str]) -> None:
    await Vendor(client, "acme", "k").start()
    for method, path in (
        ("POST", "/_mock/reset"),
        ("POST", "/_mock/integrations"),
        ("DELETE", "/_mock/integrations/acme"),
        ("POST", "/_mock/clock/advance"),
    ):
        async with client.request(method, path, headers=headers) as response:
            problem = await response.json()
            assert response.status == 403, (method, path, headers, problem)
            assert problem["code"] == "cross_site_request"
    async with client.get("/_mock/integrations") as response:
        assert [each["id"] for each in (await response.json())["integrations"]] == ["acme"]


async def test_a_cross_site_image_cannot_create_integrations(client: Any) -> None:
    """<img src="http://127.0.0.1:8080/_mock/integrations/x1"> is a GET, but it creates x1."""
    headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
    async with client.get("/_mock/integrations/x1", headers=headers) as response:
        assert response.status == 403
    async with client.get("/_mock/integrations") as response:
        assert (await response.json())["integrations"] == []


async def test_what_curl_the_dashboard_and_a_link_send_still_works(client: Any) -> None:
    origin = f"http://127.0.0.1:{client.server.port}"
    async with client.post("/_mock/reset") as response:  # curl -X POST .../_mock/reset: no body, no Origin
        assert response.status == 200
    same_origin = {"Origin": origin, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    async with client.post("/_mock/clock/advance", json={"seconds": 1}, headers=same_origin) as response:
        assert response.status == 200
    async with client.get("/_mock/journal", headers={"Sec-Fetch-Site": "same-origin"}) as response:
        assert response.status == 200
    # A link to the dashboard from another site, or a bookmark: a top-level navigation.
    for site in ("cross-site", "none"):
        navigate = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        async with client.get("/_mock/", headers=navigate) as response:
            assert response.status == 200
    async with client.post(
        "/_mock/clock/advance", data=b'{"seconds": 1}', headers={"Content-Type": "application/json; charset=utf-8"}
    ) as response:
        assert response.status == 200
    assert await _clock_offset(client) == 2


# ---- item 4: the Host header ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "host", [b"evil.example", b"evil.example:8080", b"127.0.0.1.nip.io", b"10.0.0.5:8080", b"mock-sprinto:8080"]
)
async def test_a_foreign_host_name_is_not_served(client: Any, host: bytes) -> None:
    for path in ("/_mock/health", f"{API}/acme/status", "/_mock/"):
        data = rawhttp.build("GET", path, [(b"api-key", b"k")], host=host)
        answer = await rawhttp.request(client.server.host, client.server.port, data)
        assert answer.status == 421, (host, path, answer)
        assert answer.json()["code"] == "host_not_allowed"
        assert "x-request-id" in answer.headers


@pytest.mark.parametrize(
    "host", [b"127.0.0.1", b"127.0.0.1:8080", b"localhost", b"LocalHost:1", b"[::1]:8080", b"[::1]", b"127.0.0.2:9"]
)
async def test_loopback_names_are_served_on_any_port(client: Any, host: bytes) -> None:
    data = rawhttp.build("GET", "/_mock/health", host=host)
    answer = await rawhttp.request(client.server.host, client.server.port, data)
    assert answer.status == 200, (host, answer)


async def test_allowed_hosts_and_the_configured_host_are_served(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(allowed_hosts="mock.test, ci-runner:8080", host="emulator.internal"))
    for host, status in (
        (b"mock.test", 200),
        (b"MOCK.TEST:9", 200),
        (b"ci-runner:8080", 200),
        (b"emulator.internal:8080", 200),
        (b"other.test", 421),
    ):
        answer = await rawhttp.request(
            client.server.host, client.server.port, rawhttp.build("GET", "/_mock/health", host=host)
        )
        assert answer.status == status, host
    anything = await serve(make_emulator(allowed_hosts="*"))
    answer = await rawhttp.request(
        anything.server.host, anything.server.port, rawhttp.build("GET", "/_mock/health", host=b"whatever.example")
    )
    assert answer.status == 200


async def _status(client: Any, host: bytes) -> int:
    answer = await rawhttp.request(
        client.server.host, client.server.port, rawhttp.build("GET", "/_mock/health", host=host)
    )
    return answer.status


async def test_bound_beyond_loopback_service_names_and_addresses_are_served(serve: Any, make_emulator: Any) -> None:
    """In a container (host 0.0.0.0): a compose or CI service name, an IP address and the machine's
    own name reach it; a dotted name, which a page could rebind to the server, still does not."""
    client = await serve(make_emulator(host="0.0.0.0"))
    served = [b"mock-sprinto:8080", b"sprinto", b"Mock_Sprinto:1", b"10.0.0.5:8080", b"[fd00::5]:8080", b"127.0.0.1"]
    served.append(socket.gethostname().encode())
    refused = [b"evil.example", b"mock-sprinto.evil.example:8080", b"127.0.0.1.nip.io", b"ai.", b"-x", b"a" * 64]
    assert [(host, await _status(client, host)) for host in served + refused] == [
        *((host, 200) for host in served),
        *((host, 421) for host in refused),
    ]
    for bound in ("::", "192.168.1.10"):  # every interface (IPv6), one interface of a LAN
        assert await _status(await serve(make_emulator(host=bound)), b"mock-sprinto:8080") == 200


async def test_an_explicit_allowed_hosts_replaces_the_names_served_beyond_loopback(
    serve: Any, make_emulator: Any
) -> None:
    listed = await serve(make_emulator(host="0.0.0.0", allowed_hosts="mock.internal"))
    assert [
        await _status(listed, host) for host in (b"mock.internal:8080", b"localhost", b"mock-sprinto", b"10.0.0.5")
    ] == [
        200,
        200,
        421,
        421,
    ]
    strict = await serve(make_emulator(host="0.0.0.0", allowed_hosts=""))  # MOCK_SPRINTO_ALLOWED_HOSTS=
    assert [await _status(strict, host) for host in (b"127.0.0.1:1", b"mock-sprinto", b"10.0.0.5")] == [200, 421, 421]


def test_the_host_check_reads_the_bind_address_without_a_port() -> None:
    from mock_sprinto.http.guards import HostCheck
    from mock_sprinto.settings import Settings

    assert [HostCheck(Settings(host=host)).beyond_loopback for host in ("::1", "[::1]", "localhost", "127.0.0.2")] == [
        False
    ] * 4
    assert HostCheck(Settings(host="0.0.0.0"), hostname="Runner-7.example.internal").allows(
        "runner-7.example.internal:80"
    )
    assert not HostCheck(Settings(host="127.0.0.1"), hostname="runner-7").allows("runner-7:80")


def test_the_banner_says_which_host_names_are_served_when_listening_beyond_loopback(make_emulator: Any) -> None:
    from mock_sprinto.cli import banner

    text = banner("0.0.0.0", 8080, make_emulator(host="0.0.0.0", allowed_hosts="mock"))
    assert "  host names served: loopback ones, mock\n  any other host name gets 421" in text
    assert "host names served" not in banner("127.0.0.1", 8080, make_emulator())
    default = banner("0.0.0.0", 8080, make_emulator(host="0.0.0.0"))
    assert (
        "host names served: loopback ones, single-label names (service names such as mock-sprinto), IP addresses, "
        f"this machine's name ({socket.gethostname().lower()})"
    ) in " ".join(default.split())
    # It was one line of ~175 characters (in a container, ending in a bare container id).
    assert max(len(line) for line in default.splitlines() if "host name" in line or "addresses" in line) <= 100
    anyone = banner("0.0.0.0", 8080, make_emulator(host="0.0.0.0", allowed_hosts="*"))
    assert "host names served: any (allowed_hosts '*')" in anyone and "421" not in anyone  # was "any; others get 421"


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("::0", "http://[::1]:8080"),  # every spelling of an unspecified address
        ("0:0:0:0:0:0:0:0", "http://[::1]:8080"),
        ("[::]", "http://[::1]:8080"),
    ],
)
def test_the_banner_of_a_server_on_every_interface_gives_an_address_a_client_can_call(
    make_emulator: Any, host: str, origin: str
) -> None:
    # It gave http://0.0.0.0:8080, which a browser refuses and allowed_hosts may not list.
    from mock_sprinto.cli import banner

    text = banner(host, 8080, make_emulator(host=host))
    assert f"base URL        {origin}/api/external/push" in text and f"dashboard       {origin}/_mock/" in text
    urls = [word for word in text.split() if word.startswith("http://")]
    assert len(urls) >= 4 and all(url.startswith(origin) for url in urls), urls  # the warning names the bound one
