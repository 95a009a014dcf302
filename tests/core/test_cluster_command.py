"""`make cluster` without Debian's haproxy: one line with the command that installs it, before
anything is started. (The topology itself: tests/cluster/test_topology.py.)"""

import shutil

import pytest
from django.core.management import CommandError, call_command

from apps.core.cluster import haproxy


def test_without_haproxy_make_cluster_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.setenv("CROWDPROOF_DATA_DIR", str(tmp_path))

    with pytest.raises(CommandError) as error:
        call_command("cluster")

    assert str(error.value) == haproxy.ERR_NO_HAPROXY
    assert haproxy.INSTALL_COMMAND in str(error.value)
    assert not (tmp_path / "cluster").exists()
