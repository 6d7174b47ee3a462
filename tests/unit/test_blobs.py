"""The blob store contract, on the local directory and on a real S3 server (``blob_store``): round trips,
key validation, listing and deleting folders, readers that never see half an object; and the local store's
atomic replacement."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from core.blobs import InvalidBlobKey, LocalBlobStore, validate_key
from core.ports import BlobStore


def test_round_trip_overwrite_and_delete(blob_store: BlobStore) -> None:
    blobs = blob_store
    assert not blobs.exists("results/a.png")
    blobs.put("results/a.png", b"first")
    blobs.put("results/a.png", b"second")
    assert blobs.get("results/a.png") == b"second" and blobs.exists("results/a.png")
    blobs.delete("results/a.png")
    blobs.delete("results/a.png")  # deleting twice is fine
    assert not blobs.exists("results/a.png")
    with pytest.raises(FileNotFoundError):
        blobs.get("results/a.png")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "inputs/../../outside",
        "inputs//a.png",
        "inputs/./a.png",
        ".hidden",
        "inputs/.tmp-123",
        "with space.png",
        "back\\slash.png",
        "ünïcode.png",
        "inputs/",
        "a" * 600,
    ],
)
def test_unsafe_keys_are_refused(blob_store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobKey):
        blob_store.put(key, b"x")
    with pytest.raises(InvalidBlobKey):
        blob_store.exists(key)
    with pytest.raises(InvalidBlobKey):
        blob_store.get(key)
    with pytest.raises(InvalidBlobKey):
        blob_store.delete(key)
    if isinstance(blob_store, LocalBlobStore):
        assert list(blob_store.root.iterdir()) == []


def test_keys_lists_a_folder_and_delete_prefix_empties_it(blob_store: BlobStore) -> None:
    for key in ("held/a/1.png", "held/a/b/2.png", "held/ab/3.png"):
        blob_store.put(key, key.encode())
    assert blob_store.keys("held/a/") == ["held/a/1.png", "held/a/b/2.png"]
    assert blob_store.keys("held/ab/") == ["held/ab/3.png"]  # a sibling that shares the name's start
    assert blob_store.keys("held/nobody/") == []
    with pytest.raises(InvalidBlobKey):
        blob_store.keys("held/a")  # a prefix is a folder
    assert blob_store.delete_prefix("held/a/") == 2
    assert blob_store.keys("held/a/") == [] and blob_store.keys("held/") == ["held/ab/3.png"]
    assert blob_store.delete_prefix("held/a/") == 0


def test_ordinary_keys_are_accepted() -> None:
    for key in ("inputs/0123abcd.png", "results/0123abcd.mask.png", "loras/u-1/adapter_v2.safetensors"):
        assert validate_key(key) == key


def test_a_failed_write_keeps_the_old_object_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobStore(tmp_path)
    blobs.put("results/a.png", b"old")

    def no_space(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError):
        blobs.put("results/a.png", b"new")
    monkeypatch.undo()
    assert blobs.get("results/a.png") == b"old"
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["a.png"]


def test_readers_see_the_old_or_the_new_object_never_a_mix(blob_store: BlobStore) -> None:
    blobs = blob_store
    versions = [bytes([n]) * 2_000_000 for n in (1, 2)]
    blobs.put("results/big.png", versions[0])
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            blobs.put("results/big.png", versions[n % 2])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reads = [blobs.get("results/big.png") for _ in range(100)]
    finally:
        stop.set()
        thread.join()
    assert all(read in versions for read in reads)
    assert blobs.keys("results/") == ["results/big.png"]
    if isinstance(blobs, LocalBlobStore):  # and no temporary file was left behind
        assert [p.name for p in (blobs.root / "results").iterdir()] == ["big.png"]
