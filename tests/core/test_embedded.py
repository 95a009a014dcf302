from pathlib import Path

from apps.core.embedded import EmbeddedServices


def test_a_relative_data_folder_becomes_absolute(tmp_path, monkeypatch):
    # Unix socket paths derive from the folder: a relative one would break from elsewhere.
    monkeypatch.chdir(tmp_path)
    services = EmbeddedServices(data_dir=Path(".data/bench/services"))
    assert services.data_dir == tmp_path / ".data" / "bench" / "services"
