"""Run: ordering, TREC round trips, malformed run files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankfw.core import InputError, Run


def test_from_scores_orders_by_score_then_docid_and_cuts_at_k() -> None:
    run = Run.from_scores({"q1": {"b": 1.0, "a": 1.0, "c": 3.0, "d": 0.5}}, k=3)
    assert run["q1"] == [("c", 3.0), ("a", 1.0), ("b", 1.0)]
    assert run.top(1)["q1"] == [("c", 3.0)]
    assert run.docids() == {"a", "b", "c"}


def test_trec_round_trip_is_lossless_and_byte_identical(tmp_path: Path) -> None:
    run = Run.from_scores({"q1": {"d1": 0.1 + 0.2, "d2": 1e-9, "d3": -2.5}, "q2": {"x": 12.0}})
    first = tmp_path / "a.run"
    run.write_trec(first, tag="t")
    again = Run.read_trec(first)
    assert again == run
    second = tmp_path / "b.run"
    again.write_trec(second, tag="t")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text().splitlines()[0] == "q1 Q0 d1 1 0.30000000000000004 t"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("q1 Q0 d1 1 0.5", "expected 6 columns"),
        ("q1 Q0 d1 one 0.5 t", "rank must be an integer"),
        ("q1 Q0 d1 1 nan t", "not finite"),
        ("q1 Q0 d1 1 abc t", "score a number"),
    ],
)
def test_malformed_run_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.run"
    path.write_text(f"q1 Q0 d0 1 1.0 t\n{line}\n")
    with pytest.raises(InputError, match=message) as e:
        Run.read_trec(path)
    assert e.value.where == f"{path}:2"


def test_duplicate_document_in_run_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.run"
    path.write_text("q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n")
    with pytest.raises(InputError, match="appears twice") as e:
        Run.read_trec(path)
    assert e.value.where.endswith(":2")


def _sample_run() -> Run:
    """Three queries, one without hits, docids shared between queries, a tie."""
    scored = Run.from_scores({"q2": {"b": 1.0, "a": 1.0, "c": 3.0}, "q1": {"c": 0.25, "d": -2.0}})
    return Run({"q2": scored["q2"], "q0": [], "q1": scored["q1"]})


def test_columns_hold_every_hit_in_query_and_rank_order() -> None:
    run = _sample_run()
    columns = run.columns()
    assert columns is run.columns()  # built once
    assert columns.qids == ["q2", "q0", "q1"]
    assert columns.offsets.tolist() == [0, 3, 3, 5]
    assert columns.lengths.tolist() == [3, 0, 2]
    assert columns.names[columns.codes].tolist() == ["c", "a", "b", "c", "d"]
    assert columns.scores.tolist() == [3.0, 1.0, 1.0, 0.25, -2.0]
    assert len(columns.names) == 4  # "c" is coded once


def test_a_run_from_columns_reads_as_the_run_it_came_from() -> None:
    run = _sample_run()
    again = Run.from_columns(run.columns())
    assert (len(again), list(again), repr(again)) == (len(run), list(run), repr(run))
    assert again.scores() == run.scores()
    assert again._hits is None  # len, iteration, repr and scores() do not build the lists
    assert again == run and dict(again) == dict(run)
    assert again.to_trec() == run.to_trec()
    assert dict(again.canonical()) == dict(run.canonical()) and dict(again.top(1)) == dict(run.top(1))
    assert again.scores() == run.scores() and again.docids() == run.docids()
    assert "q0" in again and "q9" not in again and again["q0"] == []
    assert again.to_pandas().equals(run.to_pandas())
    assert again.columns() is run.columns()


def test_columns_may_carry_docids_no_hit_uses() -> None:
    import numpy as np

    from rankfw.core import RunColumns

    names = np.array(["x", "y", "z"], dtype=object)
    columns = RunColumns(["q"], np.array([0, 2]), np.array([2, 0]), names, np.array([2.0, 1.0]))
    run = Run.from_columns(columns)
    assert run["q"] == [("z", 2.0), ("x", 1.0)]
    assert run.docids() == {"x", "z"}
    with pytest.raises(ValueError, match="inconsistent columns"):
        RunColumns(["q", "r"], np.array([0, 2]), np.array([2, 0]), names, np.array([2.0, 1.0]))


def test_read_trec_into_columns_orders_like_trec_eval_whatever_the_file_order(tmp_path: Path) -> None:
    """The columnar reader (a run file of millions of hits is never a dict per query) gives what
    sorting each query's hits by (score desc, docid) gives: ties, shuffled lines, shared docids,
    qids that sort differently as strings and numbers, blank lines."""
    import random

    rng = random.Random(7)
    scores = {str(q): {f"d{rng.randrange(40)}": float(rng.choice([1, 2, 2.5, -1, 0.0, 3])) for _ in range(25)}
              for q in (10, 9, 100, 1, 2)}
    lines = [f"{q} Q0 {d} {rng.randrange(1, 99)} {s!r} tag" for q, docs in scores.items() for d, s in docs.items()]
    rng.shuffle(lines)
    path = tmp_path / "shuffled.run"
    path.write_text("\n".join(lines[:30]) + "\n\n" + "\n".join(lines[30:]) + "\n")
    read = Run.read_trec(path)
    expected = Run.from_scores({q: scores[q] for q in sorted(scores)})
    assert list(read) == sorted(scores) == ["1", "10", "100", "2", "9"]
    assert dict(read.items()) == dict(expected.items())
    assert read.to_trec("tag") == expected.to_trec("tag")
    assert read.top(3) == expected.top(3) and read.top(3).to_trec() == expected.top(3).to_trec()
    assert read.docids() == expected.docids() and read.scores() == expected.scores()


def test_duplicate_in_a_shuffled_run_names_its_second_line(tmp_path: Path) -> None:
    path = tmp_path / "dup.run"
    path.write_text("q2 Q0 a 1 1.0 t\nq1 Q0 a 1 3.0 t\n\nq1 Q0 b 2 2.0 t\nq2 Q0 b 2 0.5 t\nq1 Q0 a 3 1.0 t\nq1 Q0 b 4 1.0 t\n")
    with pytest.raises(InputError, match="document 'a' appears twice for query 'q1'") as e:
        Run.read_trec(path)
    assert e.value.where == f"{path}:6"


def test_a_columnar_run_writes_the_same_file_as_its_lists(tmp_path: Path) -> None:
    """A run held as columns (fusion's output, a run read back) is written a query at a time, in
    qid order without its empty queries, byte for byte like the same run held as lists."""
    from rankfw.core.columns import RunColumns

    lists = _sample_run()
    columns = Run.from_columns(RunColumns.from_hits(dict(lists.items())))
    lists.write_trec(tmp_path / "lists.run", tag="t")
    columns.write_trec(tmp_path / "columns.run", tag="t")
    assert (tmp_path / "lists.run").read_bytes() == (tmp_path / "columns.run").read_bytes()
    assert list(columns.canonical()) == ["q1", "q2"] and columns.canonical() == lists.canonical()
    assert columns.top(1).to_trec() == lists.top(1).to_trec()


@pytest.mark.parametrize("max_hits", [1, 2, 3, 1000])
def test_iter_scores_groups_the_asked_queries_the_same_from_lists_and_from_columns(max_hits: int) -> None:
    run = _sample_run()
    columnar = Run.from_columns(run.columns())
    asked = ["q1", "q9", "q0", "q2"]  # q9: not in the run; q0: no hits
    groups = list(run.iter_scores(asked, max_hits))
    merged = {q: docs for group in groups for q, docs in group.items()}
    assert list(merged) == ["q1", "q0", "q2"] and merged == {q: run.scores()[q] for q in merged}
    assert merged["q2"] == {"c": 3.0, "a": 1.0, "b": 1.0}  # the tie kept, rank order
    assert len(groups) > 1 or max_hits >= 3
    from_columns = list(columnar.iter_scores(asked, max_hits))
    assert {q: d for g in from_columns for q, d in g.items()} == merged
    assert [list(d.items()) for g in from_columns for d in g.values()] == [list(d.items()) for d in merged.values()]
    assert columnar._hits is None  # read from the columns, no lists built
    assert all(sum(map(len, g.values())) <= max(max_hits, 3) + 2 for g in groups + from_columns)
    assert list(run.iter_scores([], max_hits)) == [] == list(columnar.iter_scores(["q9"], max_hits))
