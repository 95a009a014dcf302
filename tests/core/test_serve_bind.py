"""`make run` chooses its address one documented way and refuses a taken port in one line."""

import socket

import pytest
from django.core.management import CommandError, call_command

from apps.core.management.commands.serve import default_bind


@pytest.fixture
def taken_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "127.0.0.1:8000"),
        ({"PORT": "8123"}, "127.0.0.1:8123"),
        ({"GUNICORN_BIND": "0.0.0.0:9000", "PORT": "8123"}, "0.0.0.0:9000"),
    ],
)
def test_the_default_bind_comes_from_the_environment(monkeypatch, environ, expected):
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert default_bind() == expected


def test_a_taken_port_is_one_clear_error(taken_port):
    with pytest.raises(CommandError) as refused:
        call_command("serve", "--bind", f"127.0.0.1:{taken_port}", "--no-demo")
    message = str(refused.value)
    assert f"port {taken_port}" in message
    assert f"PORT={taken_port + 1}" in message


def test_a_malformed_bind_is_refused():
    with pytest.raises(CommandError, match="is not host:port"):
        call_command("serve", "--bind", "localhost:http")
