from sql_fixtures import rows

STATUSES = ["new", "enqueud", "acceptd", "pdlivrd", "delivrd", "undeliv", "rejectd", "expired", "deleted", "unknown"]


def differences(row):
    return {s: row[f"{s}_difference"] for s in STATUSES if row[f"{s}_difference"] != 0}


def by_campaign(con):
    return {r["campaign_id"]: r for r in rows(con, "select * from reconciliation")}


def test_reconciliation_shows_per_status_differences_even_when_totals_agree(warehouse):
    row = by_campaign(warehouse)[1]
    assert (row["delivrd_warehouse"], row["delivrd_gateway"]) == (4, 5)
    assert (row["unknown_warehouse"], row["unknown_gateway"]) == (1, 0)
    assert differences(row) == {"delivrd": -1, "unknown": 1}
    assert (row["total_warehouse"], row["total_gateway"], row["total_difference"]) == (13, 13, 0)
    assert row["has_gateway_counters"] is True
    assert row["is_consistent"] is False


def test_matching_counters_are_consistent_and_absent_statuses_count_as_zero(warehouse):
    recon = by_campaign(warehouse)
    for campaign_id in (3, 4):  # campaign 4's counter status is lower case
        assert differences(recon[campaign_id]) == {}
        assert recon[campaign_id]["is_consistent"] is True
    assert recon[3]["new_gateway"] == 0
    assert recon[4]["pdlivrd_gateway"] == 2


def test_a_campaign_without_counters_has_null_gateway_columns_and_is_not_consistent(warehouse):
    row = by_campaign(warehouse)[2]
    assert row["has_gateway_counters"] is False
    assert row["delivrd_gateway"] is None and row["delivrd_difference"] is None
    assert row["total_gateway"] is None
    assert row["is_consistent"] is False


def test_total_gateway_falls_back_to_the_sum_of_counters(empty_warehouse):
    from sql_fixtures import CAMPAIGN_COUNTERS, load_tables
    load_tables(empty_warehouse, {"campaign_counters": CAMPAIGN_COUNTERS})
    row = by_campaign(empty_warehouse)[1]
    assert (row["total_gateway"], row["total_warehouse"], row["total_difference"]) == (13, 0, -13)
