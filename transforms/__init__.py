"""Raw gateway payload items -> typed frames shaped like the warehouse base tables. Pure: no I/O, no clock.

See `transforms.tables` for the per-table functions and their contracts, `transforms.arrow` for the schemas.
"""

from ._coerce import FINAL_STATUSES, MESSAGE_STATUSES
from .arrow import ARROW_SCHEMAS, to_arrow
from .tables import (
    COLUMNS,
    PERIOD_TYPES,
    Normalized,
    campaign_counters,
    campaigns,
    link_click_stats,
    links,
    message_statuses,
    messages,
)

__all__ = [
    "ARROW_SCHEMAS", "FINAL_STATUSES", "MESSAGE_STATUSES", "COLUMNS", "PERIOD_TYPES", "Normalized",
    "campaign_counters", "campaigns", "link_click_stats", "links", "message_statuses", "messages", "to_arrow",
]
