"""Nothing left behind: every temporary folder of an upload (`andon-upload-*`) is removed when
its canonical CSV is replaced, when the upload is cleaned up or dropped, and on errors; the CLI's
`ingest --mapping` leaves none. Each test counts the folders in its own temp folder."""

from __future__ import annotations

import gc

import pytest

from pipelines import cli
from pipelines.uploads import (
    UploadError,
    prepare_upload,
    propose_mapping,
    read_upload,
    save_preset,
)
from tests.conftest import andon_dirs
from tests.pipelines.uploads import fixtures

ORDERS = "orders_bom_crlf.csv"


@pytest.fixture
def messy(tmp_path):
    return fixtures.build(tmp_path / "messy")


def test_prepare_remap_and_cleanup_leave_no_folder(own_tmp, messy):
    p = prepare_upload(messy[ORDERS], ORDERS)
    assert len(andon_dirs(own_tmp)) == 1
    remapped = p.remap(propose_mapping(p.raw, "orders"))
    p.cleanup()  # the replaced upload goes; the new one keeps its own CSV
    assert remapped.csv_path.is_file()
    assert len(andon_dirs(own_tmp)) == 1
    remapped.cleanup()
    assert andon_dirs(own_tmp) == []


def test_a_prepared_upload_nobody_holds_removes_its_folder(own_tmp, messy):
    p = prepare_upload(messy[ORDERS], ORDERS)
    p.remap(propose_mapping(p.raw, "orders"))  # dropped at once
    del p
    gc.collect()
    assert andon_dirs(own_tmp) == []


def test_a_failed_remap_leaves_no_folder_and_the_current_csv_intact(own_tmp, messy):
    p = prepare_upload(messy[ORDERS], ORDERS)
    before = p.csv_path.read_bytes()
    other = prepare_upload(messy["orders_dmy.csv"], "orders_dmy.csv")
    with pytest.raises(UploadError):
        p.remap(other.mapping)  # made for other columns
    other.cleanup()
    assert p.csv_path.read_bytes() == before
    p.cleanup()
    assert andon_dirs(own_tmp) == []


def test_an_error_while_preparing_leaves_no_folder(own_tmp, messy, monkeypatch):
    def fail(*args, **kwargs):
        raise UploadError("boom")

    monkeypatch.setattr("pipelines.uploads.to_canonical_csv", fail)
    with pytest.raises(UploadError):
        prepare_upload(messy[ORDERS], ORDERS)
    assert andon_dirs(own_tmp) == []


def test_an_upload_folder_can_live_in_a_given_folder(own_tmp, messy, tmp_path):
    session = tmp_path / "session"
    session.mkdir()
    with prepare_upload(messy[ORDERS], ORDERS, tmp_dir=session) as p:
        assert p.csv_path.parent.parent == session
        remapped = p.remap(p.mapping)
        assert remapped.csv_path.parent.parent == session
        remapped.cleanup()
    assert andon_dirs(session) == [] and andon_dirs(own_tmp) == []


def test_cli_ingest_with_a_mapping_leaves_no_folder(own_tmp, messy, tmp_path, capsys):
    preset = save_preset(propose_mapping(read_upload(messy[ORDERS], ORDERS)), tmp_path / "presets")
    store = str(tmp_path / "store")
    assert cli.main(["ingest", str(messy[ORDERS]), "--mapping", str(preset), "--store", store]) == 0
    # a file the preset was not made for: refused, and nothing left either
    other = str(messy["orders_dmy.csv"])
    assert cli.main(["ingest", other, "--mapping", str(preset), "--store", store]) == 2
    assert "made for other columns" in capsys.readouterr().err
    assert andon_dirs(own_tmp) == []
