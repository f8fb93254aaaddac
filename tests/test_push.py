"""A push that cannot happen is one line that says why and where the data is.

No Hub-compatible server installs from PyPI here (`hf-local-hub` needs a Go binary it does not
ship), so the upload itself is not exercised: these tests cover the paths that end before or at
the Hub's first answer: offline, no token, a server that refuses the token, one that is not there.
"""

import http.server
import os
import socket
import subprocess
import sys
import threading

import pytest

from cookbook_datasets.cli import main
from cookbook_datasets.push import PushError, push_dataset
from cookbook_datasets.template_data import generate


@pytest.fixture
def written(tmp_path, cache_dir):
    return generate(["nli"], tmp_path / "data", num_examples=10, cache_dir=cache_dir)


def _online_without_token(monkeypatch, tmp_path):
    import huggingface_hub.constants

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(name, "0")
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))


def _error_lines(stderr: str) -> list:
    """What stderr says besides progress bars (which end in carriage returns or bar glyphs)."""
    assert "Traceback" not in stderr
    return [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("error:")]


def test_offline_push_is_one_line_naming_the_reason_and_the_data(written, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PushError) as error:
        push_dataset(written, "me/cookbook-nli")
    message = str(error.value)
    assert "\n" not in message and "offline" in message
    assert str(written.absolute()) in message and f"cookbook push {written} me/cookbook-nli" in message


def test_push_without_a_token_says_so(written, monkeypatch, tmp_path):
    _online_without_token(monkeypatch, tmp_path)
    with pytest.raises(PushError, match="no Hugging Face token"):
        push_dataset(written, "me/cookbook-nli")


def test_cookbook_push_exits_1_with_one_line_on_stderr(written, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["push", str(written), "me/cookbook-nli", "--private"]) == 1
    [line] = _error_lines(capsys.readouterr().err)
    assert line.startswith("error: cannot push") and "offline" in line


def test_generate_push_to_hub_writes_and_shows_the_data_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    assert main(["generate", "nli", "--num-examples", "10", "--out", str(out), "--show", "1",
                 "--push-to-hub", "me/cookbook-nli"]) == 1
    captured = capsys.readouterr()
    assert f"Wrote {out}" in captured.out and captured.out.count(">>>") == 1
    [line] = _error_lines(captured.err)
    assert str(out.absolute()) in line
    assert (out / "nli").is_dir() and (out / "README.md").is_file()


def test_the_python_generate_raises_the_same_one_line_error_after_writing(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PushError, match="offline"):
        generate(["nli"], tmp_path / "out", num_examples=10, cache_dir=cache_dir, push_to_hub="me/x")
    assert (tmp_path / "out" / "README.md").is_file()


def test_pushing_what_is_not_a_hub_layout_directory_fails_before_any_network(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    assert main(["push", str(tmp_path / "plain"), "me/x"]) == 2
    assert "no README.md" in capsys.readouterr().err


class _Refusing(http.server.BaseHTTPRequestHandler):
    def _refuse(self):
        body = b'{"error": "Invalid credentials in Authorization header"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _refuse

    def log_message(self, *args):
        pass


def _push_in_subprocess(directory, endpoint):
    """`cookbook push` in a fresh interpreter: the Hub endpoint is read when huggingface_hub is imported."""
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": "hf_not_a_real_token", "HF_HUB_OFFLINE": "0",
           "HF_DATASETS_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1"}
    return subprocess.run([sys.executable, "-m", "cookbook_datasets.cli", "push", str(directory), "me/cookbook-nli"],
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_hub_that_refuses_the_token_is_one_line(written):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = _push_in_subprocess(written, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert result.returncode == 1, result.stderr
    [line] = _error_lines(result.stderr)
    assert "refused the token (401" in line and str(written.absolute()) in line


def test_a_hub_that_is_not_there_is_one_line(written):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _push_in_subprocess(written, f"http://127.0.0.1:{port}")
    assert result.returncode == 1, result.stderr
    [line] = _error_lines(result.stderr)
    assert "could not be reached" in line
