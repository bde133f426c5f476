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
        ({"teams": {"t": {"tags": {"team": "t"}, "namespaces": [""]}}}, "teams.t.namespaces.0"),
        ({"teams": {"t": {"tags": {"team": "t"}, "namespaces": "ml-*"}}}, "teams.t.namespaces"),
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
    # complete: every rule is there, and the provider lists every kind the registry has (its comment: "all")
    from bot.adapters.providers.aws.kinds import KINDS
    from bot.config import RulesConfig

    example_rules = yaml.safe_load(path.read_text())["rules"]
    assert set(RulesConfig.model_fields) - set(example_rules) == set()
    assert config.providers[0].kinds == [k.name for k in KINDS]


def test_owner_team_and_approvers() -> None:
    config = parse_config({"teams": {"a": {"tags": {"team": "ml", "env": "prod"}, "approvers": ["U1"]},
                                     "b": {"tags": {"team": "ml"}}}, "admins": ["U9"]})
    assert config.owner_team({"Team": "ML", "env": "prod"}) == "a"
    assert config.owner_team({"team": "ml", "env": "dev"}) == "b"
    assert config.owner_team({}) is None
    assert config.can_approve("U1", "a") and not config.can_approve("U1", "b")
    assert config.can_approve("U9", None) and not config.can_approve("U2", "a")


def test_example_config_providers() -> None:
    import yaml

    path = Path(__file__).resolve().parents[2] / "costbot.example.yml"
    (aws,) = parse_config(yaml.safe_load(path.read_text()), str(path)).providers
    assert aws.name == "aws" and aws.regions == ["us-east-1", "eu-west-1"]
    assert [(a.id, a.role_arn, a.regions) for a in aws.account_list()] == [
        ("123456789012", None, None), ("111122223333", "arn:aws:iam::111122223333:role/costbot", ["eu-west-1"])]


ROLE = "arn:aws:iam::111122223333:role/costbot"


def test_providers_are_named_by_their_kind_unless_told_and_names_are_unique() -> None:
    config = parse_config({"providers": [{"kind": "aws"}, {"kind": "aws", "name": "aws-prod", "role_arn": ROLE}]})
    assert [p.name for p in config.providers] == ["aws", "aws-prod"]
    with pytest.raises(ConfigError) as exc:
        parse_config({"providers": [{"kind": "aws", "regions": ["us-east-1"]},
                                    {"kind": "aws", "regions": ["eu-west-1"], "role_arn": ROLE}]}, "costbot.yml")
    assert str(exc.value) == ("costbot.yml is not valid:\n  providers: Value error, providers.0 and providers.1 are "
                              "both named 'aws': give each provider its own `name`")


def test_a_top_level_role_arn_is_one_account_the_roles() -> None:
    (aws,) = parse_config({"providers": [{"kind": "aws", "role_arn": ROLE}]}).providers
    assert [(a.id, a.role_arn) for a in aws.account_list()] == [("111122223333", ROLE)]
    (default,) = parse_config({"providers": [{"kind": "aws"}]}).providers
    assert default.account_list() == [] and default.regions == ["us-east-1"]


@pytest.mark.parametrize(("provider", "fragment"), [
    ({"kind": "gcp"}, "providers.0: Input tag 'gcp' found using 'kind' does not match any of the expected tags: "
                      "'aws', 'demo'"),
    ({"kind": "aws", "regions": ["us-east1"]}, "providers.0.regions: Value error, 'us-east1' is not an AWS region"),
    ({"kind": "aws", "accounts": [{"id": 111122223333}]}, "providers.0.accounts.0.id: Value error, write the "
                                                           "account id in quotes"),
    ({"kind": "aws", "accounts": [{"id": "1234"}]}, "'1234' is not an AWS account id (12 digits)"),
    ({"kind": "aws", "accounts": [{"id": "444455556666", "role_arn": ROLE}]},
     "providers.0.accounts.0: Value error, role_arn arn:aws:iam::111122223333:role/costbot is a role of account "
     "111122223333, not of 444455556666"),
    ({"kind": "aws", "accounts": [{"id": "111122223333", "role_arn": "costbot"}]}, "'costbot' is not an IAM role ARN"),
    ({"kind": "aws", "role_arn": ROLE, "accounts": [{"id": "111122223333"}]},
     "providers.0: Value error, role_arn at the top level stands for one account"),
    ({"kind": "aws", "accounts": [{"id": "111122223333"}, {"id": "111122223333"}]},
     "account 111122223333 is listed more than once"),
    ({"kind": "aws", "name": "a|b"}, "providers.0.name: Value error, provider name 'a|b' must be"),
    ({"kind": "aws", "regions": []}, "providers.0.regions: List should have at least 1 item"),
    ({"kind": "aws", "zone": "x"}, "providers.0.zone: unknown key"),
])
def test_provider_config_errors_name_the_key(provider: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"providers": [provider]}, "costbot.yml")
    assert fragment in str(exc.value)


def test_two_providers_covering_one_account_and_region_are_an_error() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"providers": [
            {"kind": "aws", "regions": ["eu-west-1"], "role_arn": ROLE},
            {"kind": "aws", "name": "other", "regions": ["us-east-1"],
             "accounts": [{"id": "111122223333", "role_arn": ROLE, "regions": ["eu-west-1"]}]}]})
    assert "providers.0 and providers.1 both cover account 111122223333 in eu-west-1" in str(exc.value)


def test_store_memory_limit_is_a_size_or_a_share_of_memory() -> None:
    assert parse_config({}).store.memory_limit == "1GB"
    assert parse_config({"store": {"memory_limit": " 512MiB", "threads": 2}}).store.memory_limit == "512MiB"
    assert parse_config({"store": {"memory_limit": "25%"}}).store.memory_limit == "25%"
    for value, why in [("lots", "'lots' is not a memory size such as 1GB, 512MB or 25%"),
                       ("100MB", "'100MB' is too little memory for the store (at least 128MB)"),
                       ("150%", "'150%' is not a share of memory between 0 and 100 %")]:
        with pytest.raises(ConfigError) as exc:
            parse_config({"store": {"memory_limit": value}}, "costbot.yml")
        assert str(exc.value) == f"costbot.yml is not valid:\n  store.memory_limit: Value error, {why}"
    with pytest.raises(ConfigError, match=r"store\.threads"):
        parse_config({"store": {"threads": 0}}, "costbot.yml")
