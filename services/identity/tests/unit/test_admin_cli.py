"""`identity-service admin`: each command makes the admin API call it names, with the token
from the environment or a file (never the command line), and says how it went in its exit
status. The API itself is a stand-in transport here; tests/e2e runs the command for real."""

import json
from pathlib import Path

import httpx
import pytest
from identity_service import admin_cli

ACCOUNT = "0b5e9a3c-5d0e-4d6b-9f27-6a3f1c2e8d41"


class Recorder:
    def __init__(self, status: int = 200, body: object = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.body = {"ok": True} if body is None else body

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(self.status, json=self.body)

        return httpx.MockTransport(handle)


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ADMIN_URL", "http://127.0.0.1:8201/")
    monkeypatch.setenv("IDENTITY_ADMIN_TOKEN", "the-token")


A = f"/admin/v1/accounts/{ACCOUNT}"
LOOKUP = "/admin/v1/accounts/lookup"
WHY = {"reason": "r"}


@pytest.mark.parametrize(
    ("argv", "method", "path", "body"),
    [
        (["lookup", "p@example.com"], "POST", LOOKUP, {"email": "p@example.com"}),
        (["state", ACCOUNT, "--reason", "SUP-1"], "GET", f"{A}/security", None),
        (["remove-2fa", ACCOUNT, "--reason", "r"], "POST", f"{A}/two-factor/remove", WHY),
        (["sign-out", ACCOUNT, "--reason", "r"], "POST", f"{A}/sign-out-everywhere", WHY),
        (["cancel-resets", ACCOUNT, "--reason", "r"], "POST", f"{A}/password-resets/cancel", WHY),
        (["audit", "--account", ACCOUNT, "--limit", "5"], "GET", "/admin/v1/audit", None),
    ],
)  # fmt: skip
def test_each_command_makes_its_call(
    argv: list[str], method: str, path: str, body: object, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder()
    assert admin_cli.main(argv, recorder.transport()) == 0
    (request,) = recorder.requests
    assert (request.method, request.url.path) == (method, path)
    assert request.headers["Authorization"] == "Bearer the-token"
    assert (json.loads(request.content) if request.content else None) == body
    assert json.loads(capsys.readouterr().out) == {"ok": True}


def test_a_change_needs_a_reason() -> None:
    with pytest.raises(SystemExit) as usage:
        admin_cli.main(["remove-2fa", ACCOUNT], Recorder().transport())
    assert usage.value.code == 2


def test_the_token_comes_from_a_file_or_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit):  # there is no --token option to leak into `ps`
        admin_cli.main(["--token", "x", "state", ACCOUNT], Recorder().transport())
    token_file = tmp_path / "token"
    token_file.write_text("from-the-file\n")
    recorder = Recorder()
    assert (
        admin_cli.main(["--token-file", str(token_file), "state", ACCOUNT], recorder.transport())
        == 0
    )
    assert recorder.requests[0].headers["Authorization"] == "Bearer from-the-file"
    monkeypatch.delenv("IDENTITY_ADMIN_TOKEN")
    with pytest.raises(SystemExit) as missing:
        admin_cli.main(["state", ACCOUNT], Recorder().transport())
    assert missing.value.code == 2


def test_an_error_answer_goes_to_stderr_with_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    refused = Recorder(403, {"error": "forbidden", "message": "your roles do not allow it"})
    assert admin_cli.main(["audit"], refused.transport()) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "403" in captured.err and "forbidden" in captured.err
