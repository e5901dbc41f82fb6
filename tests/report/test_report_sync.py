"""Each sync writes the report after publishing the warehouse and links it from its Prefect artifact.

Uses the session's synced sandbox (tests/conftest.py), shared with the end-to-end tests."""

from report_page import parse

from reports.html import REPORT_FILE


def test_a_sync_writes_the_report_of_the_warehouse_it_published(synced):
    from e2e_support import metrics_by_campaign

    page = (synced.data_dir / REPORT_FILE).read_text()
    tree = parse(page)
    shown = {int(tr.attrs["data-campaign-id"]): tr for tr in tree.find_all("tr") if "data-campaign-id" in tr.attrs}
    metrics = metrics_by_campaign(synced.data_dir)
    assert sorted(shown) == sorted(metrics)
    for campaign_id, row in metrics.items():
        assert shown[campaign_id].find("td", data_metric="delivered").attrs["data-value"] == str(row["delivered"])
    assert synced.summaries[-1]["run_id"] in tree.find("header").text


def test_the_sync_artifact_links_the_report_by_its_file_url(synced):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sync-summary"])))
    run_id = synced.summaries[-1]["run_id"]
    [artifact] = [a for a in artifacts if a.description == f"sync run {run_id}"]
    assert (synced.data_dir / REPORT_FILE).resolve().as_uri() in artifact.data
