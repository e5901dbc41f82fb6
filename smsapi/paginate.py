"""Page-number pagination as the gateway does it: 0-based ``currentPage``, ``pageSize`` 100."""
from __future__ import annotations

from typing import Any

__all__ = ["PAGE_SIZE", "ColumnItems", "Page", "PageNumberPaginator"]

PAGE_SIZE = 100  # the largest page the API takes (25, 50 or 100)


class Page(list):
    """One page's items, a plain list to every caller; ``total`` is the listing's ``totalItemCount`` on the
    listing's first page (None on later pages, or when the gateway sent none), so a caller can show progress
    against it without the client knowing how."""

    def __init__(self, items=(), total: int | None = None):
        super().__init__(items)
        self.total = total


class ColumnItems:
    """A page's items decoded by column rather than as a dict each (`SmsApi.call`'s `decode`, for instance
    `smsapi.columnar`): what paging needs of them, without the client knowing their form. `total`
    is set as on a `Page`."""

    total: int | None = None

    def __len__(self) -> int:
        raise NotImplementedError

    def ids(self) -> list:
        """Each item's `id` as sent (None where it has none), in order."""
        raise NotImplementedError

    def take(self, positions: list[int]) -> ColumnItems:
        """The items at `positions` (in order): what is left once repeats are dropped."""
        raise NotImplementedError


class PageNumberPaginator:
    """The state of one paged listing.

    ``update_state(data)`` reads one ``{"items": [...], "totalItemCount": "N"}`` page; ``has_next_page`` turns
    false on an empty page or once ``pages_read * page_size`` reaches ``totalItemCount`` (sent as a string).
    """

    def __init__(self, page_size: int = PAGE_SIZE, start_page: int = 0):
        self.page_size = page_size
        self.current_page = start_page
        self.total: int | None = None
        self.items_seen = 0
        self.has_next_page = True

    def request_params(self) -> dict[str, int]:
        return {"currentPage": self.current_page, "pageSize": self.page_size}

    @staticmethod
    def items_of(data: Any) -> list | ColumnItems:
        if isinstance(data, dict):
            items = data.get("items")
            if isinstance(items, ColumnItems):
                return items
            return list(items) if items else []
        if isinstance(data, list):
            return data
        return []

    def update_state(self, data: Any) -> None:
        items = self.items_of(data)
        if isinstance(data, dict) and data.get("totalItemCount") not in (None, ""):
            try:
                self.total = int(str(data["totalItemCount"]))
            except ValueError:
                self.total = None
        if not items or not isinstance(data, dict):
            self.has_next_page = False  # an empty page, or a plain list that is the whole answer
            return
        self.items_seen += len(items)
        self.current_page += 1
        if self.total is not None and self.current_page * self.page_size >= self.total:
            self.has_next_page = False
