"""One settings object: defaults < config file < env ASSISTANT_* < CLI flags."""

from __future__ import annotations

import pytest

from assistant.settings import SettingsError, load_settings


def test_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings().top_k == 5  # default
    (tmp_path / "assistant.toml").write_text('top_k = 7\nchunk_tokens = 120\ncollection = "from-file"\n')
    assert (load_settings().top_k, load_settings().chunk_tokens) == (7, 120)  # config file
    monkeypatch.setenv("ASSISTANT_TOP_K", "9")
    assert load_settings().top_k == 9  # env beats file
    assert load_settings().collection == "from-file"
    assert load_settings(top_k=11).top_k == 11  # a CLI flag beats env


def test_explicit_config_file_and_errors(tmp_path):
    config = tmp_path / "my.toml"
    config.write_text("max_file_mb = 2.5\n")
    assert load_settings(config).max_file_mb == 2.5
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    config.write_text("no_such_setting = 1\n")
    with pytest.raises(SettingsError, match="no_such_setting"):
        load_settings(config)


def test_store_key_separates_stores():
    assert load_settings().store_key != load_settings(chroma_url="http://h:1").store_key
