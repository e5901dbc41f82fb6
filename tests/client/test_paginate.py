"""The paginator stop rule: 0-based pages of 100; stop on an empty page or when totalItemCount is reached."""
from smsapi.paginate import PageNumberPaginator


def page(n, total):
    return {"items": [{"id": str(i)} for i in range(n)], "totalItemCount": total}


def test_first_request_is_page_zero_of_one_hundred():
    assert PageNumberPaginator().request_params() == {"currentPage": 0, "pageSize": 100}


def test_stops_once_pages_times_size_reaches_the_string_total():
    p = PageNumberPaginator()
    p.update_state(page(100, "250"))
    p.update_state(page(100, "250"))
    assert p.has_next_page and p.current_page == 2
    p.update_state(page(50, "250"))
    assert not p.has_next_page and p.items_seen == 250


def test_a_total_that_is_an_exact_multiple_needs_no_extra_empty_page():
    p = PageNumberPaginator()
    p.update_state(page(100, "100"))
    assert not p.has_next_page


def test_stops_on_an_empty_page_even_if_the_total_says_more():
    p = PageNumberPaginator()
    p.update_state(page(100, "1000"))
    p.update_state(page(0, "1000"))
    assert not p.has_next_page


def test_without_a_total_it_continues_until_an_empty_page():
    p = PageNumberPaginator()
    p.update_state({"items": [{"id": "1"}]})
    assert p.has_next_page
    p.update_state({"items": []})
    assert not p.has_next_page


def test_a_total_of_zero_stops_at_once():
    p = PageNumberPaginator()
    p.update_state(page(0, "0"))
    assert not p.has_next_page
