"""Settings are typed, bounded, and built only from what the edge passes in."""

from __future__ import annotations

from pathlib import Path

import pytest

from grace_kernel.config import Settings, find_home
from grace_kernel.errors import ConfigError, GraceError


def test_defaults_are_the_documented_bounds(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.checkpoint_every == 1000
    assert settings.checkpoint_interval == 60.0
    assert settings.sync == "normal"
    assert settings.db_path == tmp_path / "grace.db"
    assert settings.keys_dir == tmp_path / "keys"


def test_from_env_reads_only_the_mapping_it_is_given(tmp_path: Path) -> None:
    env = {
        "GRACE_HOME": str(tmp_path / "ws"),
        "GRACE_CHECKPOINT_EVERY": "50",
        "GRACE_CHECKPOINT_INTERVAL": "2.5",
        "GRACE_SYNC": "FULL",
    }
    settings = Settings.from_env(env, cwd=Path("/"))
    assert settings == Settings(
        home=tmp_path / "ws", checkpoint_every=50, checkpoint_interval=2.5, sync="full"
    )


def test_home_is_the_nearest_grace_directory_above(tmp_path: Path) -> None:
    (tmp_path / ".grace").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_home(deep) == tmp_path / ".grace"
    assert Settings.from_env({}, cwd=deep).home == tmp_path / ".grace"


def test_home_defaults_to_the_current_directory(tmp_path: Path) -> None:
    assert find_home(tmp_path) == tmp_path / ".grace"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GRACE_CHECKPOINT_EVERY": "0"}, "outside its bounds"),
        ({"GRACE_CHECKPOINT_EVERY": "2000000"}, "outside its bounds"),
        ({"GRACE_CHECKPOINT_EVERY": "ten"}, "not a whole number"),
        ({"GRACE_CHECKPOINT_INTERVAL": "-1"}, "outside its bounds"),
        ({"GRACE_CHECKPOINT_INTERVAL": "soon"}, "not a number"),
        ({"GRACE_SYNC": "sometimes"}, "sync must be one of"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({"GRACE_HOME": str(tmp_path), **env}, cwd=tmp_path)
    assert isinstance(caught.value, GraceError)
    assert caught.value.diagnostics().startswith("error: ")
    assert caught.value.exit_code == 2


def test_float_checkpoint_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="whole number"):
        Settings(home=tmp_path, checkpoint_every=10.5)  # type: ignore[arg-type]
