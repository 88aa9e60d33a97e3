from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings
from tests import ROOT

EXAMPLE = ROOT / "config.example.toml"


def test_example_config_loads_with_every_key() -> None:
    settings = load_settings(EXAMPLE, environ={})
    assert settings.imap.folder == "INBOX"
    assert settings.incidents[0].start.utcoffset().total_seconds() == 8 * 3600


def test_environment_overrides_the_file_for_secrets(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[imap]\npassword = "from-file"\nport = 143\n')
    settings = load_settings(
        path, environ={"CLAIMSBOT_IMAP_PASSWORD": "from-env", "CLAIMSBOT_POLL_SECONDS": "7"}
    )
    assert settings.imap.password.get_secret_value() == "from-env"
    assert settings.poll_seconds == 7
    assert "from-env" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[imap]\nport = "imap"\n', "invalid value for [imap] port"),
        ("[imap]\nprot = 143\n", "unknown key [imap] prot"),
        ("poll_seconds = 0\n", "invalid value for poll_seconds"),
        (
            '[[incidents]]\nname = "x"\nstart = 2019-06-26T18:58:00\nend = 2019-06-27T05:30:00+08:00\n',
            "[[incidents]] #1 start",
        ),
        ('[[incidents]]\nname = "x"\n', "missing key [[incidents]] #1 start"),
        ("[imap\n", "not valid TOML"),
        ('[letters]\nsign_off.en = "Claims team"\n', "[letters] sign_off"),
        ('[letters]\nbroker_name.en = "Example Markets"\n', "missing: zh-Hans, zh-Hant"),
        ('[letters]\ncontact.fr = ["+33 1"]\n', "unknown reply language 'fr'"),
        ('[web]\nbase_url = "claims.broker.example"\n', "[web] base_url"),
        ('[digest]\nlanguage = "fr"\n', "[digest] language"),
    ],
)
def test_bad_config_names_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_bad_config_is_one_line_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[smtp]\nsecurity = "tls-maybe"\n')
    assert main(["queue", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[smtp] security" in err and "Traceback" not in err


def test_missing_config_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_every_setting_is_documented_in_the_example() -> None:
    from pydantic import BaseModel

    from bot.config import IncidentSettings, Settings

    text = EXAMPLE.read_text()
    missing = []
    for name, field in Settings.model_fields.items():
        if name == "source":
            continue
        annotation = field.annotation
        if name == "incidents":
            keys = dict(IncidentSettings.model_fields)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys = dict(annotation.model_fields)
        else:
            keys = {name: None}
        for key in keys:
            if not any(f"\n{lead}{key}{sep}" in text for lead in ("", "# ") for sep in (" =", ".")):
                missing.append(f"{name}.{key}")
    assert missing == []


def test_a_delay_reason_from_the_environment_is_the_text_for_every_language() -> None:
    settings = load_settings(
        None, environ={"CLAIMSBOT_JOBS_DELAY_REASON": "gold prices are being reconciled"}
    )
    assert set(settings.jobs.delay_reason.values()) == {"gold prices are being reconciled"}
    assert set(settings.jobs.delay_reason) == {"en", "zh-Hans", "zh-Hant"}
