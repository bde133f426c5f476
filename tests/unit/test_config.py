from pathlib import Path

import pytest

from bot.config import Settings, load_config, parse_config
from bot.domain.errors import ConfigError


def test_builtin_demo_config_is_valid() -> None:
    config = load_config(None)
    assert "team-ml" in config.teams
    assert config.team_tags("team-ml") == {"team": "ml"}


def test_unknown_key_names_its_path() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"teams": {"team-ml": {"tags": {"team": "ml"}, "chanel": "#x"}}}, "costbot.yml")
    assert "teams.team-ml.chanel: unknown key" in str(exc.value)


def test_wrong_type_names_path_and_expectation() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"teams": {"t": {"tags": {"team": "t"}, "budget": {"monthly": "lots"}}}})
    assert "teams.t.budget.monthly" in str(exc.value)
    assert "decimal" in str(exc.value).lower()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone: Value error, unknown time zone 'Mars/Olympus'"),
        ({"currency": "usd"}, "currency: Value error, expected a 3-letter"),
        ({"metric": "Cost"}, "metric: Input should be 'EffectiveCost' or 'BilledCost'"),
        ({"tag_keys": {"project": "p"}}, "tag_keys needs a 'team' entry"),
        ({"teams": {"team-ml": {}}}, "teams.team-ml.tags: required key is missing"),
        ({"teams": {"t": {"tags": {"team": "t"}, "digest": {"schedule": "daily"}}}}, "5-field cron"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_validation_messages(data: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert fragment in str(exc.value)


def test_yaml_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "costbot.yml"
    bad.write_text("teams: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yml")


def test_settings_from_env(tmp_path: Path) -> None:
    s = Settings({"COSTBOT_DATA_DIR": str(tmp_path), "COSTBOT_TODAY": "2026-01-02"})
    assert s.data_dir == tmp_path
    assert s.database_url == f"sqlite:///{tmp_path.as_posix()}/state.db"
    assert s.today("UTC").isoformat() == "2026-01-02"
    with pytest.raises(ConfigError, match="COSTBOT_TODAY"):
        Settings({"COSTBOT_TODAY": "tomorrow"}).today("UTC")


def test_example_config_is_valid_and_complete() -> None:
    import yaml

    path = Path(__file__).resolve().parents[2] / "costbot.example.yml"
    config = parse_config(yaml.safe_load(path.read_text()), str(path))
    assert config.owners_channel == "#cloud-owners"
    assert config.teams["team-ml"].members and config.rules.scan_every_hours == 6


def test_owner_team_and_approvers() -> None:
    config = parse_config({"teams": {"a": {"tags": {"team": "ml", "env": "prod"}, "approvers": ["U1"]},
                                     "b": {"tags": {"team": "ml"}}}, "admins": ["U9"]})
    assert config.owner_team({"Team": "ML", "env": "prod"}) == "a"
    assert config.owner_team({"team": "ml", "env": "dev"}) == "b"
    assert config.owner_team({}) is None
    assert config.can_approve("U1", "a") and not config.can_approve("U1", "b")
    assert config.can_approve("U9", None) and not config.can_approve("U2", "a")
