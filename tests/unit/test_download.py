"""Download, resume, verify and extract, against a local HTTP server (no network)."""

import hashlib
import http.server
import os
import re
import socket
import stat
import sys
import threading
import types
import zipfile
from pathlib import Path

import pytest
from imaging import add_symlink, cells_spec, corrupt_member, make_dataset, zip_folder

from malaria_lab.data import download as dl
from malaria_lab.data.extract import MARKER, extract
from malaria_lab.errors import MalariaLabError

COUNTS = {("Parasitized", "C1P1"): 3, ("Uninfected", "C1P1"): 2, ("Uninfected", "C2P2"): 3}


class Server:
    """Serves ``files`` over HTTP with Range support; ``mode`` picks a misbehaviour."""

    def __init__(self):
        self.files, self.requests = {}, []
        self.mode, self.drop_after, self.dropped = "normal", 0, False
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append({"path": name, "range": self.headers.get("Range")})
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
                if match and server.mode != "ignore_range":
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if server.mode == "drop" or (server.mode == "drop_once" and not server.dropped):
                    server.dropped = True
                    self.wfile.write(body[:server.drop_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(dl, "_RETRY_WAIT", 0)
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def kaggle_zip(tmp_path_factory):
    """A zip like Kaggle's: a nested second copy, Thumbs.db per class, a stray non-image file."""
    src = tmp_path_factory.mktemp("src")
    spec = cells_spec(COUNTS)
    spec.update(cells_spec(COUNTS, prefix="cell_images/cell_images"))
    for label in ("Parasitized", "Uninfected"):
        spec[f"cell_images/{label}/Thumbs.db"] = b"\xd0\xcf\x11\xe0 not an image"
        spec[f"cell_images/cell_images/{label}/Thumbs.db"] = b"\xd0\xcf\x11\xe0 not an image"
    spec["cell_images/README.txt"] = b"hello"
    make_dataset(src, spec)
    archive = zip_folder(src, tmp_path_factory.mktemp("zip") / "cells.zip")
    return archive.read_bytes()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def expected_names():
    return sorted(Path(p).name for p in cells_spec(COUNTS))


def extracted_names(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def leftovers(dest):
    return sorted(p.name for p in Path(dest).iterdir() if p.name.startswith(".cell_images"))


def test_download_url_gives_deduplicated_images(server, kaggle_zip, tmp_path):
    server.files["cells.zip"] = kaggle_zip
    out = dl.download(tmp_path, url=server.url("cells.zip"), sha256=sha(kaggle_zip), progress=False,
                      log=lambda m: None)
    assert out == tmp_path / "cell_images"
    assert extracted_names(out) == expected_names()
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "Parasitized", "Uninfected"]
    assert (tmp_path / "downloads" / "cells.zip").read_bytes() == kaggle_zip
    assert not list((tmp_path / "downloads").glob("*.part"))
    assert leftovers(tmp_path) == []


def test_second_call_does_no_request(server, kaggle_zip, tmp_path):
    server.files["cells.zip"] = kaggle_zip
    dl.download(tmp_path, url=server.url("cells.zip"), progress=False, log=lambda m: None)
    server.requests.clear()
    said = []
    dl.download(tmp_path, url=server.url("cells.zip"), progress=False, log=said.append)
    assert server.requests == []
    assert "already downloaded and verified: 8 images" in " ".join(said).lower()


def test_fetch_is_idempotent(server, tmp_path):
    data = os.urandom(5000)
    server.files["f.bin"] = data
    target = tmp_path / "f.bin"
    dl.fetch(server.url("f.bin"), target, sha256=sha(data), progress=False, log=lambda m: None)
    server.requests.clear()
    said = []
    assert dl.fetch(server.url("f.bin"), target, sha256=sha(data), progress=False,
                    log=said.append) == target
    assert server.requests == [] and "already downloaded" in said[0].lower()


def test_dropped_connection_resumes_with_range(server, tmp_path):
    data = os.urandom(300_000)
    server.files["big.zip"] = data
    server.mode, server.drop_after = "drop_once", 100_000
    target = dl.fetch(server.url("big.zip"), tmp_path / "big.zip", sha256=sha(data), progress=False,
                      chunk=8192, log=lambda m: None)
    assert target.read_bytes() == data
    assert [r["range"] for r in server.requests] == [None, "bytes=100000-"]


def test_connection_that_keeps_dropping_keeps_the_part(server, tmp_path):
    data = os.urandom(100_000)
    server.files["f.zip"] = data
    server.mode, server.drop_after = "drop", 1000
    with pytest.raises(MalariaLabError, match="failed after 5 tries.*run the same command again"):
        dl.fetch(server.url("f.zip"), tmp_path / "f.zip", progress=False, chunk=512)
    assert (tmp_path / "f.zip.part").read_bytes() == data[:5000]
    assert [r["range"] for r in server.requests][1:] == [f"bytes={n}-" for n in range(1000, 5000, 1000)]


def test_partial_file_from_earlier_run_is_resumed(server, tmp_path):
    data = os.urandom(50_000)
    server.files["f.zip"] = data
    (tmp_path / "f.zip.part").write_bytes(data[:20_000])
    dl.fetch(server.url("f.zip"), tmp_path / "f.zip", sha256=sha(data), progress=False,
             log=lambda m: None)
    assert (tmp_path / "f.zip").read_bytes() == data
    assert server.requests[0]["range"] == "bytes=20000-"


def test_server_ignoring_range_starts_over(server, tmp_path):
    data = os.urandom(50_000)
    server.files["f.zip"] = data
    server.mode = "ignore_range"
    (tmp_path / "f.zip.part").write_bytes(b"\0" * 20_000)
    dl.fetch(server.url("f.zip"), tmp_path / "f.zip", sha256=sha(data), progress=False,
             log=lambda m: None)
    assert (tmp_path / "f.zip").read_bytes() == data


def test_complete_part_answered_416_is_finished(server, tmp_path):
    data = os.urandom(10_000)
    server.files["f.zip"] = data
    (tmp_path / "f.zip.part").write_bytes(data)
    dl.fetch(server.url("f.zip"), tmp_path / "f.zip", sha256=sha(data), progress=False,
             log=lambda m: None)
    assert (tmp_path / "f.zip").read_bytes() == data
    assert not (tmp_path / "f.zip.part").exists()


def test_wrong_checksum_is_refused_and_cleaned(server, kaggle_zip, tmp_path):
    server.files["cells.zip"] = kaggle_zip
    with pytest.raises(MalariaLabError) as err:
        dl.download(tmp_path, url=server.url("cells.zip"), sha256="0" * 64, progress=False,
                    log=lambda m: None)
    text = str(err.value)
    assert "0" * 64 in text and sha(kaggle_zip) in text and "again" in text and "--sha256" in text
    assert not (tmp_path / "cell_images").exists()
    assert leftovers(tmp_path) == []
    assert list((tmp_path / "downloads").iterdir()) == []


def test_http_error_and_unreachable_host_are_explained(server, tmp_path):
    with pytest.raises(MalariaLabError, match="404.*synth"):
        dl.fetch(server.url("missing.zip"), tmp_path / "m.zip", progress=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MalariaLabError, match="network.*synth"):
        dl.fetch(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", progress=False)


@pytest.mark.parametrize("evil", ["../evil.png", "/tmp/malaria_lab_evil.png",
                                  "cell_images/Parasitized/../../evil.png", "symlink"])
def test_zip_slip_is_refused_before_writing(server, kaggle_zip, tmp_path, evil):
    archive = tmp_path / "src.zip"
    archive.write_bytes(kaggle_zip)
    if evil == "symlink":
        evil = "cell_images/Parasitized/link.png"
        add_symlink(archive, evil, "/etc/passwd")
    else:
        with zipfile.ZipFile(archive, "a") as zf:
            zf.writestr(zipfile.ZipInfo(evil), b"evil")
    server.files["cells.zip"] = archive.read_bytes()
    dest = tmp_path / "dest"
    with pytest.raises(MalariaLabError, match=re.escape(repr(evil))):
        dl.download(dest, url=server.url("cells.zip"), progress=False, log=lambda m: None)
    assert not (dest / "cell_images").exists() and leftovers(dest) == []
    assert not (tmp_path / "evil.png").exists() and not Path("/tmp/malaria_lab_evil.png").exists()


def test_failed_extraction_leaves_nothing(kaggle_zip, tmp_path):
    archive = tmp_path / "cells.zip"
    archive.write_bytes(kaggle_zip)
    with zipfile.ZipFile(archive) as zf:
        last = sorted(n for n in zf.namelist() if n.startswith("cell_images/Uninfected/C2P2"))[-1]
    corrupt_member(archive, last)
    dest = tmp_path / "dest"
    with pytest.raises(MalariaLabError, match="damaged"):
        extract(archive, dest, log=lambda m: None)
    assert not (dest / "cell_images").exists() and leftovers(dest) == []


def test_malformed_checksum_is_refused_before_downloading(server, tmp_path):
    server.files["f.zip"] = b"data"
    with pytest.raises(MalariaLabError, match="not a sha256"):
        dl.download(tmp_path, url=server.url("f.zip"), sha256="abc", progress=False)
    assert server.requests == []


def test_extract_twice_is_a_no_op(kaggle_zip, tmp_path):
    archive = tmp_path / "cells.zip"
    archive.write_bytes(kaggle_zip)
    out = extract(archive, tmp_path / "dest", log=lambda m: None)
    said = []
    assert extract(archive, tmp_path / "dest", log=said.append) == out
    assert said == [f"Already extracted: 8 images in {out}."]
    (out / "Uninfected").iterdir().__next__().unlink()
    with pytest.raises(MalariaLabError, match="incomplete extraction"):
        extract(archive, tmp_path / "dest", log=lambda m: None)


def test_existing_user_folder_is_left_alone(server, kaggle_zip, tmp_path):
    server.files["cells.zip"] = kaggle_zip
    mine = tmp_path / "cell_images" / "Parasitized" / "mine.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"user data")
    with pytest.raises(MalariaLabError, match="left untouched"):
        dl.download(tmp_path, url=server.url("cells.zip"), progress=False, log=lambda m: None)
    assert server.requests == []
    assert mine.read_bytes() == b"user data"
    assert [p.name for p in (tmp_path / "cell_images").rglob("*")] == ["Parasitized", "mine.png"]


class FakeKaggleApi:
    def __init__(self, archive_bytes, config):
        self.archive_bytes, self.config, self.mode_seen = archive_bytes, config, None

    def authenticate(self):
        self.mode_seen = stat.S_IMODE(self.config.stat().st_mode)

    def dataset_download_files(self, dataset, path, unzip=False, quiet=True, **kwargs):
        assert dataset == dl.KAGGLE_DATASET and not unzip
        Path(path, dl.KAGGLE_ZIP).write_bytes(self.archive_bytes)


@pytest.fixture
def kaggle_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config_dir = tmp_path / "kcfg"
    config_dir.mkdir()
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config_dir))
    return config_dir


def test_kaggle_source_makes_credentials_private(kaggle_zip, kaggle_home, tmp_path, monkeypatch):
    config = kaggle_home / "kaggle.json"
    config.write_text('{"username": "u", "key": "k"}')
    config.chmod(0o644)
    api = FakeKaggleApi(kaggle_zip, config)
    monkeypatch.setitem(sys.modules, "kaggle", types.SimpleNamespace(api=api))
    out = dl.download(tmp_path / "data", source="kaggle", progress=False, log=lambda m: None)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and api.mode_seen == 0o600
    assert extracted_names(out) == expected_names()


def test_kaggle_missing_client_or_credentials(kaggle_home, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaggle", None)
    with pytest.raises(MalariaLabError, match=re.escape('pip install "malaria-lab[kaggle]"')):
        dl.download(tmp_path / "data", source="kaggle", progress=False, log=lambda m: None)

    def no_credentials():
        raise OSError("Could not find kaggle.json")

    api = types.SimpleNamespace(authenticate=no_credentials)
    monkeypatch.setitem(sys.modules, "kaggle", types.SimpleNamespace(api=api))
    with pytest.raises(MalariaLabError, match="kaggle.json.*kaggle.com/settings"):
        dl.download(tmp_path / "data", source="kaggle", progress=False, log=lambda m: None)
