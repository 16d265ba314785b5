"""The names every part of the emulator reads the same way: an integration id, and a loopback host
(one function for the banner's warning, the probe's plain-http refusal and the Host check)."""

from __future__ import annotations

import pytest

from mock_sprinto.cli import banner
from mock_sprinto.http.guards import HostCheck
from mock_sprinto.naming import INTEGRATION_ID, api_key_problem, is_loopback
from mock_sprinto.probe.client import ProbeError, Target
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Settings

LOOPBACK = [
    ("localhost", True),
    ("LOCALHOST", True),
    ("LocalHost", True),
    ("app.localhost", True),  # RFC 6761: every name under .localhost is this machine
    ("App.LOCALHOST", True),
    ("127.0.0.1", True),
    ("127.0.0.2", True),
    ("127.9.8.7", True),
    ("::1", True),
    ("example.com", False),
    ("api.sprinto.com", False),
    ("10.0.0.1", False),
    ("0.0.0.0", False),
    ("::", False),
    ("", False),
    ("localhost.example.com", False),
    ("mylocalhost", False),
    ("127.0.0.1.nip.io", False),
    ("::ffff:8.8.8.8", False),
    ("[::1]", False),  # a bare name or address is expected: the callers strip brackets and ports
]


@pytest.mark.parametrize(("host", "loopback"), LOOPBACK)
def test_loopback_is_localhost_names_in_any_case_and_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _in_url(host: str) -> str:
    """``host`` as a URL or a Host header writes it, with a port: an IPv6 address in brackets."""
    return f"[{host}]:8080" if ":" in host else f"{host}:8080"


def _probe_sends_in_clear_text_to(host: str) -> bool:
    try:
        Target.parse(f"http://{_in_url(host)}/api/external/push")
    except ProbeError:
        return False
    return True


@pytest.mark.parametrize(("host", "loopback"), [case for case in LOOPBACK if case[0] and "[" not in case[0]])
def test_the_banner_the_probe_and_the_host_check_agree_on_loopback(
    host: str, loopback: bool, emulator: Emulator
) -> None:
    assert HostCheck(Settings()).allows(_in_url(host)) is loopback
    assert ("WARNING" not in banner(host, 8080, emulator)) is loopback
    assert _probe_sends_in_clear_text_to(host) is loopback


@pytest.mark.parametrize("ident", ["a", "acme", "A-1", "hr_sync.v2:eu", "9", "x" * 128])
def test_an_integration_id_is_1_to_128_safe_characters_starting_with_a_letter_or_digit(ident: str) -> None:
    assert INTEGRATION_ID.match(ident)


@pytest.mark.parametrize("ident", ["", "-a", ".a", "_a", ":a", "hr sync", "a/b", "a\n", "é", "x" * 129])
def test_anything_else_is_not_an_integration_id(ident: str) -> None:
    assert not INTEGRATION_ID.match(ident)


@pytest.mark.parametrize(
    ("key", "unsendable"),
    [
        ("key-0123abcd", False),
        ("a\tb", False),  # a tab inside a value is legal HTTP
        ("caf\u00e9 \u0085", False),  # beyond ASCII: not a control character HTTP refuses
        ("a\x00b", True),
        ("a\x08b", True),
        ("a\nb", True),
        ("a\x1fb", True),
        ("a\x7fb", True),
    ],
)
def test_an_api_key_holding_a_control_character_but_the_tab_could_never_be_sent(key: str, unsendable: bool) -> None:
    problem = api_key_problem(key)
    assert (problem is not None and "control character" in problem) is unsendable
