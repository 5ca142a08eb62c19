"""Config: profiles, paths relative to the file, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_settings
from qdrant_rebuild.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_default_profile_reads_the_demo_corpus_into_the_embedded_qdrant() -> None:
    settings = load_settings("default", environ={})

    assert settings.qdrant.embedded
    assert settings.qdrant.path.name == "qdrant"
    assert [s.name for s in settings.sources] == ["knowledge", "youtube"]
    assert settings.sources[0].path.parts[-3:] == ("examples", "corpus", "knowledge")
    assert settings.sources[0].path.is_dir()


def test_cortex_profile_names_both_cluster_servers() -> None:
    settings = load_settings("cortex", environ={})

    assert settings.qdrant.url == "http://qdrant.cortex-ai-infra.svc.cluster.local:6333"
    assert (
        settings.parity.old_url == "http://qdrant.cortex-school.svc.cluster.local:6333"
    )


def test_relative_paths_are_taken_from_the_config_files_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, '[qdrant]\npath = "store"\n')

    settings = load_settings(path, environ={})

    assert settings.qdrant.path == tmp_path / "store"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[qdrant]\nurl = "http://a:6333"\n')

    settings = load_settings(
        path,
        environ={
            "QDRANT_URL": "http://b:6333",
            "QDRANT_API_KEY": "k-123",
            "QDRANT_REBUILD_EMBEDDING__BATCH_SIZE": "64",
        },
    )

    assert settings.qdrant.url == "http://b:6333"
    assert settings.embedding.batch_size == 64
    assert settings.secrets.qdrant_api_key is not None
    assert settings.secrets.qdrant_api_key.get_secret_value() == "k-123"
    assert "k-123" not in repr(settings)


def test_an_unknown_key_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "[embedding]\nbatchsize = 64\n")

    with pytest.raises(ConfigError, match=r"unknown key 'embedding.batchsize'"):
        load_settings(path, environ={})


def test_a_wrong_type_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, '[upsert]\nbatch_points = "many"\n')

    with pytest.raises(ConfigError, match=r"upsert.batch_points: .*'many'"):
        load_settings(path, environ={})


def test_an_api_key_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = _write(tmp_path, '[qdrant]\napi_key = "s3cr3t-value"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})

    assert "qdrant.api_key" in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)


def test_an_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no config profile named 'nope'.*cortex"):
        load_settings("nope", environ={})


def test_overlap_must_stay_under_half_the_chunk(tmp_path: Path) -> None:
    path = _write(tmp_path, "[chunking]\nmax_tokens = 64\noverlap_tokens = 40\n")

    with pytest.raises(ConfigError, match="overlap_tokens"):
        load_settings(path, environ={})
