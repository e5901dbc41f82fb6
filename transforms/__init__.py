"""Raw gateway payload items -> typed frames shaped like the warehouse base tables. Pure: no I/O, no clock.

See `transforms.tables` for the per-table functions and their contracts, `transforms.arrow` for the schemas,
`transforms.pii` for the recipients' phone numbers under a privacy mode (the key is a parameter).
"""

from ._coerce import FINAL_STATUSES, MESSAGE_STATUSES
from .arrow import ARROW_SCHEMAS, to_arrow
from .pii import PII_MODES, PII_STRENGTH, PiiPolicy
from .tables import (
    COLUMNS,
    MESSAGE_KEYS,
    PERIOD_TYPES,
    STATUS_KEYS,
    Columns,
    Normalized,
    campaign_counters,
    campaigns,
    link_click_stats,
    links,
    message_statuses,
    messages,
)

__all__ = [
    "ARROW_SCHEMAS", "FINAL_STATUSES", "MESSAGE_STATUSES", "COLUMNS", "MESSAGE_KEYS", "PERIOD_TYPES",
    "STATUS_KEYS", "Columns", "Normalized", "PII_MODES",
    "PII_STRENGTH", "PiiPolicy",
    "campaign_counters", "campaigns", "link_click_stats", "links", "message_statuses", "messages", "to_arrow",
]
