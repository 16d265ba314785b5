"""Loading the start-up input (config file, environment, flags): every problem at once, each with
where it is; paths in a config file read from the file's folder; a misspelled variable refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_sprinto.settings import ConfigError, load_config, shown, value_hint


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(config: Path | None = None, env: dict[str, str] | None = None, **cli: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(config, env=env or {}, cli=cli)
    return list(raised.value.problems)


# ---- a config file: every problem at once, each with its line ---------------------------------


def test_every_problem_of_a_config_file_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "mock.yaml",
        "settings:\n"
        "  procesing_seconds: 0\n"  # 2
        "  port: 99999\n"  # 3
        "  apply_mode: merge\n"  # 4
        "integration:\n"  # 5
        "  - {id: a, api_key: k}\n"
        "integrations:\n"
        "  - {id: a}\n"  # 8
        "  - {id: 'hr sync', api_key: k}\n"  # 9
        "  - {id: b, api_key: k}\n"
        "  - {id: b, api_key: k2}\n"  # 11
        "scenario: [1]\n",  # 12
    )
    name = str(config)
    assert problems(config) == [
        f"{name}:2: unknown setting 'procesing_seconds'; did you mean 'processing_seconds'? "
        "(see: mock-sprinto settings)",
        f"{name}:3: setting 'port' must be at most 65535 (0 picks a free port), not 99999",
        f"{name}:4: setting 'apply_mode' must be one of replace, upsert, not 'merge'",
        f"{name}:5: unknown key 'integration'; did you mean 'integrations'? "
        "(a config file has settings, integrations, scenario)",
        f"{name}:8: integrations[0] must have exactly 'id' and 'api_key' (missing api_key)",
        f"{name}:9: integrations[1] id 'hr sync': an integration id is 1-128 letters, digits, '.', '_', ':' or '-', "
        "starting with a letter or digit",
        f"{name}:11: integration 'b' is declared twice (first at integrations[2])",
        f"{name}:12: 'scenario' must be a shipped scenario name or a file path",
    ]


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("a: [", "1:5", "expected the node content, but found '<stream end>'"),
        ("settings:\n  port: 1\n bad: 2\n", "3:2", "check the indentation"),
        ("settings:\n\tport: 1\n", "2:1", "a tab: YAML indents with spaces"),
        ("scenario: a: b\n", "1:12", "mapping values are not allowed here"),
        ("settings: {port: 1\n", "2:1", "(while parsing a flow mapping at line 1, column 11)"),
    ],
)
def test_a_yaml_syntax_error_is_file_line_column_what(tmp_path: Path, text: str, where: str, what: str) -> None:
    config = write(tmp_path, "mock.yaml", text)
    (problem,) = problems(config)
    assert problem.startswith(f"{config}:{where}: not valid YAML: ") and what in problem, problem


def test_a_config_file_named_json_must_be_json(tmp_path: Path) -> None:
    # YAML's flow style takes a trailing comma, and read it as such; and as JSON, 1e1 is a number.
    assert (
        load_config(
            write(tmp_path, "ok.json", '{"settings": {"processing_seconds": 1e1}}'), env={}
        ).settings.processing_seconds
        == 10
    )
    config = write(tmp_path, "mock.json", '{"settings": {"processing_seconds": 1,\n  "port": 1,}}')
    assert problems(config) == [f"{config}:2:13: not valid JSON: a trailing comma before '}}'"]
    config = write(tmp_path, "mock.json", '{"settings": {"processing_seconds": NaN}}')
    assert problems(config) == [f"{config}: not valid JSON: NaN is not JSON"]


def test_a_file_that_is_not_utf8_names_the_line_and_column_of_the_bad_byte(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_bytes(b"settings:\n  admin_token: caf\xe9\n")
    assert problems(config) == [f"{config}:2:19: not UTF-8 text (byte 0xe9); save the file as UTF-8"]


def test_a_config_file_that_is_not_a_mapping_or_is_missing(tmp_path: Path) -> None:
    listed = write(tmp_path, "list.yaml", "- settings\n")
    assert problems(listed) == [
        f"{listed}:1: expected a mapping (settings, integrations, scenario) at the top level, not list"
    ]
    assert problems(tmp_path / "nope.yaml") == [f"config file '{tmp_path / 'nope.yaml'}': No such file or directory"]
    assert load_config(write(tmp_path, "empty.yaml", "# nothing yet\n"), env={}).integrations == ()


def test_more_declared_integrations_than_max_integrations_is_refused_at_start(tmp_path: Path) -> None:
    config = write(tmp_path, "mock.yaml", "integrations:\n  - {id: a, api_key: k}\n  - {id: b, api_key: k}\n")
    assert problems(config, max_integrations="1") == [
        f"{config}: 2 integrations are declared, more than max_integrations (1)"
    ]


# ---- paths in a config file are read from its folder ------------------------------------------


def test_a_relative_scenario_path_is_read_from_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    write(tmp_path, "conf/mine.yaml", "name: mine\nrules: []\n")
    write(tmp_path, "conf/sub/other.yaml", "name: other\nrules: []\n")
    write(tmp_path, "abs.yaml", "name: abs\nrules: []\n")
    write(tmp_path, "conf/schemas/Device.json", "{}")
    for written, expected in (
        ("mine.yaml", str(tmp_path / "conf" / "mine.yaml")),
        ("./mine.yaml", str(tmp_path / "conf" / "mine.yaml")),
        ("sub/other.yaml", str(tmp_path / "conf" / "sub" / "other.yaml")),
        (str(tmp_path / "abs.yaml"), str(tmp_path / "abs.yaml")),
        ("flaky-network", "flaky-network"),  # a shipped name stays a name
    ):
        config = write(tmp_path, "conf/mock.yaml", f"scenario: {written}\nsettings: {{schemas_dir: schemas}}\n")
        loaded = load_config(config, env={})
        assert loaded.scenario == expected, written
        assert loaded.settings.schemas_dir == str(tmp_path / "conf" / "schemas")
        assert loaded.config_file == str(config)


# ---- the environment: a misspelled MOCK_SPRINTO_* is refused, naming the closest setting --------


def test_a_misspelled_environment_variable_is_refused_naming_the_closest_setting() -> None:
    assert problems(env={"MOCK_SPRINTO_PROCESING_SECONDS": "0", "MOCK_SPRINTO_frozen_clok": "1"}) == [
        "environment MOCK_SPRINTO_PROCESING_SECONDS: not a setting; did you mean MOCK_SPRINTO_PROCESSING_SECONDS?",
        "environment MOCK_SPRINTO_frozen_clok: not a setting; did you mean MOCK_SPRINTO_FROZEN_CLOCK?",
    ]
    assert problems(env={"MOCK_SPRINTO_URL": "http://x"}) == [
        "environment MOCK_SPRINTO_URL: not a setting (MOCK_SPRINTO_* variables are settings: "
        "see mock-sprinto settings); unset or rename it"
    ]
    loaded = load_config(env={"MOCK_SPRINTO_PROCESSING_SECONDS": "0", "SPRINTO_BASE_URL": "x", "MOCK_SPRINTOX": "1"})
    assert loaded.settings.processing_seconds == 0


def test_problems_of_every_layer_come_together() -> None:
    assert problems(env={"MOCK_SPRINTO_PORT": "70000"}, host="", apply_mode="merge") == [
        "environment MOCK_SPRINTO_PORT: setting 'port' must be at most 65535 (0 picks a free port), not 70000",
        "--host: setting 'host' cannot be empty (0.0.0.0 or :: listens on every interface)",
        "--apply-mode: setting 'apply_mode' must be one of replace, upsert, not 'merge'",
    ]


# ---- how values are shown: as the README writes them --------------------------------------------


def test_values_are_shown_and_hinted_as_the_readme_writes_them() -> None:
    assert [shown(None), shown(True), shown(False), shown(3600.0), shown("reject")] == [
        "null",
        "true",
        "false",
        "3600.0",
        "reject",
    ]
    assert value_hint("duplicate_names") == "{reject,last_wins}"
    assert value_hint("lenient_close") == "{true,false}"
    assert value_hint("auto_create_integrations") == "{true,false,null}"
    assert value_hint("processing_seconds") == "SECONDS"
    assert value_hint("max_request_bytes") == "BYTES"
    assert value_hint("max_page_items") == "N"
    assert value_hint("port") == "PORT"
    assert value_hint("admin_token") == "TOKEN"


def test_an_empty_json_config_file_is_an_empty_config(tmp_path: Path) -> None:
    for text in ("", "  \n"):
        assert load_config(write(tmp_path, "mock.json", text), env={}).integrations == ()


def test_a_text_setting_that_is_not_text_is_refused_not_a_traceback(tmp_path: Path) -> None:
    # A lone surrogate (a file's "\ud800", the environment's bytes that are not UTF-8) crashed the
    # start with a traceback, hashing the admin token.
    config = write(tmp_path, "mock.yaml", 'settings:\n  admin_token: "\\ud800"\n')
    said = "setting 'admin_token' must be UTF-8 text"
    assert said in problems(config)[0]
    assert said in problems(env={"MOCK_SPRINTO_ADMIN_TOKEN": "\udced\udca0\udc80"})[0]
    path = load_config(None, env={"MOCK_SPRINTO_PERSIST_FILE": "/tmp/state-\udcff.json"}).settings.persist_file
    assert path == "/tmp/state-\udcff.json"  # a path may hold bytes that are not UTF-8


def test_a_declared_api_key_that_is_not_text_is_refused_at_start(tmp_path: Path) -> None:
    # "k\ud800" was taken, and every request of the integration answered 500 (comparing the key).
    config = write(tmp_path, "mock.yaml", 'integrations:\n  - {id: a, api_key: "k\\ud800"}\n')
    assert problems(config) == [f"{config}:2: integrations[0] api_key must be UTF-8 text: it holds a lone surrogate"]


def test_a_declared_api_key_no_client_could_send_is_refused_at_start(tmp_path: Path) -> None:
    # "k\r\nX: 1" and " k" were taken: an integration no request could ever call (HTTP refuses a
    # control character in a header, and strips the white space around its value).
    config = write(
        tmp_path, "mock.yaml", 'integrations:\n  - {id: a, api_key: "k\\r\\nX: 1"}\n  - {id: b, api_key: " k"}\n'
    )
    said = problems(config)
    assert said[0].startswith(f"{config}:2: integrations[0] api_key holds a control character"), said
    assert said[1].startswith(f"{config}:3: integrations[1] api_key starts or ends with white space"), said


@pytest.mark.parametrize("name", ["schemas_dir", "persist_file"])
def test_an_empty_path_on_the_command_line_means_none(name: str) -> None:
    """Before: ``--schemas-dir ""`` loaded the current folder's ``*.json`` as entity schemas."""
    assert getattr(load_config(None, env={}, cli={name: ""}).settings, name) is None
    assert getattr(load_config(None, env={}, cli={name: "  "}).settings, name) is None
