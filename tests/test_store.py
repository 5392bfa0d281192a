import datetime as dt
import json
import threading

import pandas as pd
import pytest

from metrics import store
from tests.support import write_benchmark_rows


def _values(n: int = 3, indicator: str = "continuity_of_care") -> pd.DataFrame:
    return pd.DataFrame({
        "indicator_id": [indicator] * n, "area_code": ["E10000013"] * n,
        "period": [f"2024/25 Q{q}" for q in range(1, n + 1)],
        "period_kind": ["quarter"] * n,
        "period_start": [dt.date(2024, 1 + 3 * q, 1) for q in range(1, n + 1)],
        "period_end": [dt.date(2024, 3 + 3 * q, 28) for q in range(1, n + 1)],
        "breakdown": [None] * n, "category": [None] * n,
        "numerator": [10.0] * n, "denominator": [20.0] * n, "value": [50.0] * n,
        "lower95": [30.0] * n, "upper95": [70.0] * n, "lower998": [20.0] * n,
        "upper998": [80.0] * n, "value_note": [None] * n,
    })


def test_nothing_published_is_reported(tmp_path):
    assert store.current_version_id(tmp_path) is None
    with pytest.raises(store.NoPublishedData):
        store.current_version(tmp_path)


def test_publish_makes_a_new_current_version_and_keeps_the_old(tmp_path):
    first = store.publish(tmp_path, {"values": _values(2)}, {"demo": True})
    second = store.publish(tmp_path, {"values": _values(3)}, {"demo": False})
    assert (first.id, second.id) == ("v0001", "v0002")
    assert store.current_version(tmp_path).id == "v0002"
    assert not store.current_version(tmp_path).is_demo
    assert [v.id for v in store.list_versions(tmp_path)] == ["v0001", "v0002"]
    manifest = json.loads((second.path / "manifest.json").read_text())
    assert manifest["rows"] == {"values": 3}
    assert len(store.indicator_values(first, ["continuity_of_care"], ["E10000013"])) == 2


def test_an_interrupted_write_is_never_listed_or_shown(tmp_path):
    store.publish(tmp_path, {"values": _values(2)}, {})
    (tmp_path / "published" / "versions" / ".v0002.partial").mkdir()
    assert store.current_version(tmp_path).id == "v0001"
    assert [v.id for v in store.list_versions(tmp_path)] == ["v0001"]


def test_queries_bind_parameters_rather_than_format_them(tmp_path):
    version = store.publish(tmp_path, {"values": _values(2)}, {})
    hostile = "E10000013' OR '1'='1"
    assert store.indicator_values(version, ["continuity_of_care"], [hostile]).empty


def test_up_to_limits_periods(tmp_path):
    version = store.publish(tmp_path, {"values": _values(3)}, {})
    rows = store.indicator_values(version, ["continuity_of_care"], ["E10000013"],
                                  up_to=dt.date(2024, 9, 30))
    assert rows["period"].tolist() == ["2024/25 Q1", "2024/25 Q2"]


def test_many_threads_can_query_one_version_at_once(tmp_path):
    # Streamlit runs each session in its own thread: a shared connection must not break.
    version = store.publish(tmp_path, {"values": _values(3)}, {})
    failures = []

    def work():
        for _ in range(25):
            try:
                assert len(store.indicator_values(version, ["continuity_of_care"],
                                                  ["E10000013"])) == 3
            except Exception as exc:  # noqa: BLE001 - collect, then report all
                failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_areas_come_from_the_reference_file(tmp_path):
    version = store.publish(tmp_path, {"values": _values(1)}, {})
    areas = store.areas(version)
    assert (areas["area_type"] == "utla").sum() == 153
    assert "Gloucestershire" in set(areas["area_name"])


def test_replaced_rows_are_dropped_by_number_only_in_the_file_they_were_planned_on(tmp_path):
    """A re-issue drops the published rows it replaces by their number in the published
    file (found while planning): the right rows go, and numbers planned on one version
    are refused for another rather than dropping the wrong rows."""
    first = store.publish(tmp_path, {"values": _values(3)}, {"demo": False})
    other = store.publish(tmp_path, {"values": _values(3, "other_metric")}, {"demo": False})
    new = _values(2).assign(numerator=99.0)            # re-issues Q1 and Q2, not Q3
    con = store.scratch_connection(tmp_path)
    try:
        con.register("new_rows", new.assign(_seq=range(len(new))))
        plan = store.plan_reissue(con, first.path / "values.parquet", tmp_path / "keys.parquet",
                                  tmp_path / "rows.parquet")
    finally:
        con.close()
    assert plan.count == 2 and plan.rows_path == tmp_path / "rows.parquet"
    version = store.publish_merged(tmp_path, first, new, {}, lambda v, n: {}, tmp_path,
                                   replaced_rows=plan.rows_path)
    values = store.read_table(version, "values").sort_values("period")
    assert values["numerator"].tolist() == [99.0, 99.0, 10.0]
    with pytest.raises(ValueError, match="plan the re-issue again"):
        store.publish_merged(tmp_path, other, new, {}, lambda v, n: {}, tmp_path,
                             replaced_rows=plan.rows_path)
    # Nothing half-written was left behind by the refusal.
    assert store.current_version(tmp_path).id == version.id


def test_a_whole_reissue_publishes_only_the_load_and_a_partial_one_keeps_the_rest(
        tmp_path, monkeypatch):
    """Every published row replaced: the new version is exactly the load (publish_merged
    then leaves the base file unread); a plan that leaves one published row keeps it."""
    first = store.publish(tmp_path, {"values": _values(3)}, {"demo": False})

    def planned(new):
        con = store.scratch_connection(tmp_path)
        try:
            con.register("new_rows", new.assign(_seq=range(len(new))))
            return store.plan_reissue(con, first.path / "values.parquet",
                                      tmp_path / "keys.parquet", tmp_path / "rows.parquet")
        finally:
            con.close()

    whole = _values(3).assign(numerator=77.0)
    plan = planned(whole)
    assert plan.count == 3
    version = store.publish_merged(tmp_path, first, whole, {}, lambda v, n: {}, tmp_path,
                                   replaced_rows=plan.rows_path)
    assert sorted(store.read_table(version, "values")["numerator"]) == [77.0] * 3

    part = _values(2).assign(numerator=55.0)
    plan = planned(part)
    version = store.publish_merged(tmp_path, first, part, {}, lambda v, n: {}, tmp_path,
                                   replaced_rows=plan.rows_path)
    assert store.read_table(version, "values").sort_values("period")["numerator"].tolist() \
        == [55.0, 55.0, 10.0]


def test_a_load_added_to_a_large_version_publishes_within_the_memory_limit(
        tmp_path, monkeypatch):
    """The published rows kept and the load's are merged in one sorted write within
    DuckDB's memory limit, spilling to disk. Written as one UNION ALL of the two files,
    DuckDB 2.0 ran out of memory in a fraction of a second: here at 64 MB (the
    demonstration set and 399,024 loaded rows), and at 448 MB with 2M loaded rows or
    the national-size benchmark. The load is shaped like that benchmark's: the
    demonstration set's own metrics and areas, every quarter from 1985/86, a total and
    two substance rows each."""
    import duckdb

    from metrics import demo

    data_dir, spill = tmp_path / "data", tmp_path / "spill"
    spill.mkdir()
    base = demo.build_demo(data_dir)
    load = tmp_path / "load.parquet"
    con = duckdb.connect()
    try:
        write_benchmark_rows(con, load, range(1985, 2019), categories=2)
        loaded = con.execute(f"SELECT count(*) FROM '{load}'").fetchall()[0][0]
    finally:
        con.close()
    monkeypatch.setattr(store.writing, "SCRATCH_MEMORY", "64MB")
    version = store.publish_merged(data_dir, base, [load], {}, lambda v, n: {"demo": False},
                                   spill, replaces=False)
    published = base.manifest["rows"]["values"]
    assert version.manifest["rows"]["values"] == published + loaded
    old = duckdb.sql(f"SELECT count(*) FROM '{version.path / 'values.parquet'}' "
                     f"WHERE period_start < DATE '2019-04-01' AND period_kind = 'quarter'"
                     ).fetchall()[0][0]
    assert old >= loaded
