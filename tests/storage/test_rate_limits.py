"""The learned rate limits kept between runs: merged, written whole, and never trusted when broken."""

from storage import rate_limits


def test_learned_rates_are_kept_merged_with_what_earlier_runs_learned(tmp_path):
    rate_limits.save(tmp_path, {"Message/List": 4.5, "Campaign/GetInfo": 9.0})
    rate_limits.save(tmp_path, {"Message/List": 3.0})
    assert rate_limits.load(tmp_path) == {"Message/List": 3.0, "Campaign/GetInfo": 9.0}
    assert not list(tmp_path.glob("*.tmp"))


def test_nothing_learned_writes_nothing(tmp_path):
    rate_limits.save(tmp_path, {})
    assert list(tmp_path.iterdir()) == []
    assert rate_limits.load(tmp_path) == {}


def test_a_broken_file_is_ignored_with_a_warning(tmp_path, caplog):
    (tmp_path / rate_limits.FILE).write_text("{not json")
    assert rate_limits.load(tmp_path) == {}
    assert "learns the gateway's rate limits again" in caplog.text
    (tmp_path / rate_limits.FILE).write_text('{"calls_per_second": {"A/B": -1, "C/D": 2}}')
    assert rate_limits.load(tmp_path) == {"C/D": 2.0}
