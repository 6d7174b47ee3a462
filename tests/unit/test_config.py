from pathlib import Path

import pytest

from core.config import Settings


def test_environment_uses_prefix_and_double_underscore_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_TELEGRAM__TOKEN", "123:abc")
    monkeypatch.setenv("ATELIER_TELEGRAM__API_URL", "http://127.0.0.1:8081")
    monkeypatch.setenv("ATELIER_MODELS__TIER", "tiny")
    monkeypatch.setenv("ATELIER_MODELS__STEPS", "7")
    settings = Settings()
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(settings)
    assert settings.telegram.api_url == "http://127.0.0.1:8081"
    assert settings.models.tier == "tiny" and settings.models.steps == 7


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ATELIER_DATA_DIR=/srv/atelier\nATELIER_MODELS__SEED=42\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.data_dir == Path("/srv/atelier") and settings.models.seed == 42


def test_defaults_need_nothing_installed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.redis_url is None  # an embedded Redis is started
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'atelier.db'}"
    assert settings.models.tier == "offline"
    assert settings.telegram.api_url == "https://api.telegram.org"


def test_unknown_tier_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_MODELS__TIER", "huge")
    with pytest.raises(ValueError):
        Settings()
