"""A listing's total reaches the caller on its first page (`Page.total`), for progress; pages stay plain lists."""
from .conftest import ok
from .test_client_methods import paged_router


def test_only_the_first_page_of_a_listing_carries_its_total(server, api):
    server.router = paged_router(250)
    pages = list(api.list_links())
    assert [p.total for p in pages] == [250, None, None]
    assert pages[0] == [{"id": str(i)} for i in range(100)]  # still compares as the list it is


def test_each_chunk_of_campaign_ids_is_a_listing_with_its_own_total(server, api):
    server.router = paged_router(30)
    pages = list(api.list_messages(range(150)))  # two chunks of ids: two listings
    assert [p.total for p in pages] == [30, 30]


def test_a_list_read_again_after_shrinking_does_not_announce_its_total_twice(server, api):
    server.add(ok({"items": [{"id": str(i)} for i in range(100)], "totalItemCount": "150"}),
               ok({"items": [{"id": str(i)} for i in range(101, 150)], "totalItemCount": "149"}),
               ok({"items": [{"id": str(i)} for i in range(101) if i != 5], "totalItemCount": "149"}),
               ok({"items": [{"id": str(i)} for i in range(101, 150)], "totalItemCount": "149"}))
    assert [p.total for p in api.list_messages([1])] == [150, None, None, None]


def test_a_listing_without_a_total_announces_none(server, api):
    server.add(ok({"items": [{"id": "1"}]}), ok({"items": []}))
    assert [p.total for p in api.list_links()] == [None]
