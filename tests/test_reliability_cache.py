"""Cache entries are verified on use and rebuilt (one log line naming the entry) when damaged,
never trusted blindly and never blamed on the user's intact input."""

from __future__ import annotations

import gzip
import json
import logging
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from rankfw.core.io import cached_file_digest, file_digest
from rankfw.data import JsonlCorpus

DOCS = [{"docid": f"d{i}", "title": f"title {i}", "text": f"text number {i} " * (1 + i % 5)} for i in range(300)]


def _gz_corpus(folder: Path) -> Path:
    path = folder / "corpus.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(d) + "\n" for d in DOCS)
    return path


def _entry(cache: Path) -> Path:
    (entry,) = [p for p in (cache / "corpus").iterdir() if p.name != "digests"]
    return entry


def test_a_file_replaced_with_the_same_size_and_mtime_is_hashed_again(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"docid": "a", "text": "one"}\n')
    first = cached_file_digest(path, tmp_path / "cache")
    stat = path.stat()
    time.sleep(0.05)  # past the kernel's coarse timestamp tick
    with open(path, "r+b") as f:  # the same inode, size and (restored) mtime: what `cp -p` does
        f.write(b'{"docid": "b", "text": "two"}\n')
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    second = cached_file_digest(path, tmp_path / "cache")
    assert second == file_digest(path) != first
    replacement = tmp_path / "new.jsonl"  # rsync -t: a new file renamed over the old one
    replacement.write_text('{"docid": "c", "text": "six"}\n')
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, path)
    assert cached_file_digest(path, tmp_path / "cache") == file_digest(path) not in (first, second)


def test_a_damaged_digest_memo_is_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"docid": "a", "text": "one"}\n')
    digest = cached_file_digest(path, tmp_path / "cache")
    (memo,) = (tmp_path / "cache" / "digests").iterdir()
    memo.write_text(digest[:20])  # truncated
    with caplog.at_level(logging.WARNING, "rankfw.cache"):
        assert cached_file_digest(path, tmp_path / "cache") == digest
    assert any(str(memo) in r.getMessage() for r in caplog.records)
    assert memo.read_text().strip() == digest


def _damage_plain_copy_truncate(entry: Path) -> None:
    plain = entry / "corpus.jsonl"
    lines = plain.read_bytes().splitlines(keepends=True)
    plain.write_bytes(b"".join(lines[: len(lines) // 2]))  # cut at a line end


def _damage_plain_copy_same_size(entry: Path) -> None:
    plain = entry / "corpus.jsonl"
    data = bytearray(plain.read_bytes())
    start = data.index(b'"d299"')
    data[start : start + 6] = b'"x299"'  # same size, same mtime
    stat = plain.stat()
    plain.write_bytes(bytes(data))
    os.utime(plain, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _damage_index_truncate(entry: Path) -> None:
    db = entry / "docids.sqlite"
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)


def _damage_index_garbage(entry: Path) -> None:
    db = entry / "docids.sqlite"
    size = db.stat().st_size
    db.write_bytes(b"\0" * size)


def _damage_index_pages(entry: Path) -> None:  # same size, pages overwritten: SQLite reports it
    db = entry / "docids.sqlite"
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)
    db.write_bytes(bytes(data))


def _damage_marker(entry: Path) -> None:
    (entry / "index.json").write_text("{")


@pytest.mark.parametrize("damage", [_damage_plain_copy_truncate, _damage_plain_copy_same_size, _damage_index_truncate,
                                    _damage_index_garbage, _damage_index_pages, _damage_marker],
                         ids=lambda f: f.__name__.removeprefix("_damage_"))
def test_a_damaged_corpus_cache_entry_is_rebuilt_with_one_line(damage, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    source = _gz_corpus(tmp_path)
    cache = tmp_path / "cache"
    assert JsonlCorpus(source, cache).get_many(["d0", "d299"])["d299"].text == DOCS[299]["text"]
    entry = _entry(cache)
    damage(entry)
    with caplog.at_level(logging.WARNING, "rankfw.cache"):
        corpus = JsonlCorpus(source, cache)
        docs = corpus.get_many([d["docid"] for d in DOCS])
        assert len(corpus) == len(DOCS)
        assert corpus.missing(["d299", "nope"]) == ["nope"]
    assert [docs[d["docid"]].text for d in DOCS] == [d["text"] for d in DOCS]
    rebuilt = [r.getMessage() for r in caplog.records if r.name == "rankfw.cache"]
    assert len(rebuilt) == 1 and str(entry) in rebuilt[0] and "rebuilding" in rebuilt[0], rebuilt
    caplog.clear()
    with caplog.at_level(logging.WARNING, "rankfw.cache"):  # and the rebuilt entry is trusted again
        assert JsonlCorpus(source, cache).get_many(["d7"])["d7"].text == DOCS[7]["text"]
    assert not caplog.records


def test_a_damaged_embedding_cache_is_started_afresh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache_module = pytest.importorskip("rankfw_biencoder_distill.cache")
    cache = cache_module.EmbeddingCache(tmp_path, "k" * 64)
    hashes = [cache.hash(f"text {i}") for i in range(2000)]
    vectors = np.random.default_rng(0).standard_normal((2000, 64)).astype(np.float32)
    cache.put_many(hashes, vectors)
    cache.close()
    path = cache.path
    for damage in ("truncate", "garbage", "pages"):
        data = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(data[: len(data) // 3])
        elif damage == "garbage":
            path.write_bytes(b"not a database" * 100)
        else:
            path.write_bytes(data[:8192] + b"\xff" * (len(data) - 8192))
        caplog.clear()
        with caplog.at_level(logging.WARNING, "rankfw.cache"):
            again = cache_module.EmbeddingCache(tmp_path, "k" * 64)
            found = again.get_many(hashes)
            assert all(np.array_equal(found[h], vectors[i]) for i, h in enumerate(hashes) if h in found)
            again.put_many(hashes, vectors)
            assert len(again.get_many(hashes)) == len(hashes)
            again.close()
        messages = [r.getMessage() for r in caplog.records if r.name == "rankfw.cache"]
        assert len(messages) == 1 and str(path) in messages[0], (damage, messages)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
