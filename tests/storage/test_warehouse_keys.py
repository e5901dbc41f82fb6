"""The warehouse build checks every base table's key (no index: see storage/warehouse.py)."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storage import warehouse
from storage.lake import Lake
from transforms import ARROW_SCHEMAS


def _write(lake_root, table, rows):
    schema = ARROW_SCHEMAS[table]
    path = lake_root / table / "data.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _link(link_id, clicks):
    return {"link_id": link_id, "campaign_id": 1, "code": "c", "click_count": clicks}


def test_a_key_held_twice_fails_the_build_and_names_the_table_and_the_fix(tmp_path):
    lake = Lake(tmp_path / "lake")
    _write(lake.root, "links", [_link(7, 1), _link(7, 2), _link(8, 3)])
    with pytest.raises(ValueError, match=r"links holds 2 rows of key \(link_id\) = \(7,\).*smsetl rebuild"):
        warehouse.build(lake, tmp_path)
    assert not (tmp_path / warehouse.WAREHOUSE_FILE).exists()  # nothing half-checked is published


def test_a_null_key_fails_the_build(tmp_path):
    lake = Lake(tmp_path / "lake")
    _write(lake.root, "links", [_link(None, 1)])
    with pytest.raises(ValueError, match="links holds 1 rows with a NULL in its key"):
        warehouse.build(lake, tmp_path)


def test_unique_keys_build_and_the_rows_are_all_there(tmp_path):
    lake = Lake(tmp_path / "lake")
    _write(lake.root, "links", [_link(7, 1), _link(8, 3)])
    con = warehouse.connect(warehouse.build(lake, tmp_path).path.parent)
    try:
        assert con.execute("select link_id, clicks from int_campaign_clicks join links using (campaign_id) "
                           "order by 1").fetchall() == [(7, 4), (8, 4)]
    finally:
        con.close()
