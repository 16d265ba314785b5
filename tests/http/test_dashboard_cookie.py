"""The dashboard with an admin token: /_mock/?token=T trades the token for a cookie the guard
accepts, on a write only as the dashboard sends it (JSON, same origin)."""

from __future__ import annotations

from typing import Any


async def test_token_in_the_url_becomes_an_httponly_strict_cookie(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(admin_token="t0p"))
    async with client.get("/_mock/?token=wrong", allow_redirects=False) as response:
        assert response.status == 401
    async with client.get("/_mock/?token=t0p", allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/_mock/"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_mock" in cookie
        assert "t0p" not in cookie  # a digest of the token, not the token
    async with client.get("/_mock/") as response:  # the cookie jar now holds it
        assert response.status == 200 and "text/html" in response.headers["Content-Type"]
    async with client.get("/_mock/integrations") as response:
        assert response.status == 200
    async with client.post("/_mock/clock/advance", json={"seconds": 60}) as response:
        assert response.status == 200  # JSON, no Origin header: as a same-origin fetch may send it
    same = f"http://{client.host}:{client.port}"
    async with client.post("/_mock/clock/advance", json={"seconds": 60}, headers={"Origin": same}) as response:
        assert response.status == 200
    # What a page elsewhere could send with the cookie: a form post, another origin, a cross-site fetch.
    refused = [
        {"data": "seconds=60", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"json": {"seconds": 60}, "headers": {"Origin": "http://127.0.0.1:1"}},
        {"json": {"seconds": 60}, "headers": {"Sec-Fetch-Site": "same-site"}},
    ]
    for kwargs in refused:
        async with client.post("/_mock/reset", **kwargs) as response:
            # refused by the cookie's own rule (401) or, first, by the cross-site guard (415, 403)
            assert response.status in (401, 403, 415), kwargs
    client.session.cookie_jar.clear()
    async with client.get("/_mock/integrations") as response:
        assert response.status == 401
