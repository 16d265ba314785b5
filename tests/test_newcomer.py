"""What a newcomer met on a first afternoon with mock-sprinto (issue 24), each kept fixed: a 415
that names what helps, a misspelled setting answered with the closest names, and a config file
whose problems (its settings and its scenario) are all reported in one go.

The plugin's findings (a missing pytest-aiohttp, a marker's misspelled setting, the pyproject
snippet) are in ``tests/plugin/test_pytester.py``; the docs' own checks in ``tests/test_docs.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.settings import ConfigError, SettingsError, coerce, load_config

from .helpers import Vendor, user

PAGE = b'{"entities": {"User": [{"employeeId": "E1"}]}}'


async def test_a_text_plain_body_gets_a_415_that_says_what_helps_and_names_no_setting(
    client: TestClient[Any, Any],
) -> None:
    """fetch() sends a string body as text/plain unless told otherwise. The setting
    missing_content_type only concerns a body sent with no Content-Type: naming it here misled."""
    vendor = Vendor(client)
    session = await vendor.start()
    problem = await vendor.push(
        session["id"], None, expect=415, data=PAGE, headers={"Content-Type": "text/plain;charset=UTF-8"}
    )
    assert problem["code"] == "unsupported_media_type" and problem["basis"] == "mock"
    assert "setting" not in problem, problem
    assert "'Content-Type: application/json'" in problem["detail"] and "fetch()" in problem["detail"]
    # A body with no Content-Type at all is what the setting is for: that answer still names it.
    missing = await vendor.push(session["id"], None, expect=415, data=PAGE, skip_auto_headers=["Content-Type"])
    assert missing["setting"] == "missing_content_type"
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})  # and JSON is accepted


async def test_the_control_planes_415_names_no_setting_either(client: TestClient[Any, Any]) -> None:
    async with client.post("/_mock/clock/advance", data=b'{"seconds": 1}', headers={"Content-Type": "text/plain"}) as r:
        problem = await r.json()
    assert r.status == 415 and "setting" not in problem and "application/json" in problem["detail"]


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("processing_secnds", "did you mean 'processing_seconds'?"),
        ("timeout_seconds", "did you mean 'send_timeout_seconds', 'body_timeout_seconds' or 'header_timeout_seconds'?"),
        ("bogus", "unknown setting 'bogus' (see: mock-sprinto settings)"),
    ],
)
def test_a_misspelled_setting_names_the_closest_settings_never_all_of_them(written: str, said: str) -> None:
    with pytest.raises(SettingsError) as refused:
        coerce(written, 1)
    assert said in str(refused.value) and "known:" not in str(refused.value)
    assert str(refused.value).endswith("(see: mock-sprinto settings)")


def test_a_config_files_bad_scenario_is_reported_with_its_setting_problems(tmp_path: Path) -> None:
    """Before, the scenario was resolved only once the settings loaded: a second round of errors."""
    config = tmp_path / "mock.yaml"
    config.write_text("settings:\n  procesing_seconds: 0\nscenario: flaky-netwrk\n")
    with pytest.raises(ConfigError) as refused:
        load_config(config, env={})
    assert refused.value.problems == (
        f"{config}:2: unknown setting 'procesing_seconds'; did you mean 'processing_seconds'? "
        "(see: mock-sprinto settings)",
        f"{config}:3: no shipped scenario named 'flaky-netwrk'; did you mean 'flaky-network'? "
        "(see: mock-sprinto scenarios list)",
    )


def test_a_config_files_invalid_scenario_file_is_reported_with_its_setting_problems(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\nrules: 3\n")
    config = tmp_path / "mock.yaml"
    config.write_text("settings:\n  rate_limit: fast\nscenario: mine.yaml\n")
    with pytest.raises(ConfigError) as refused:
        load_config(config, env={})
    assert refused.value.problems == (
        f"{config}:2: setting 'rate_limit' must be a number, not 'fast'",
        f"{config}:3: scenario {tmp_path / 'mine.yaml'}: line 2: /rules: 3 is not of type 'array'",
    )
