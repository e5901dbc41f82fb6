"""Delivery-report webhook events -> `message_statuses` rows, as Message/GetSMSStatus answers give them. Pure.

An event's `data` (`{campaignId, messageId, segNum, statusUpdateTs, status, to}`, API.md section 8) is a status
observation of one message: it goes through the same `message_statuses` transform as a poll (same status
ENUM, same account-local timestamp parsing), so an event and a poll of the same status make one history row.
"""

from __future__ import annotations

from .tables import Items, Normalized, Observed, message_statuses


def delivery_reports(events: Items, tz: str, observed_at: Observed) -> Normalized:
    """Webhook events (as stored, any eventType) -> `message_statuses` rows of their `sms-delivery-report`s."""
    items = [{"id": d.get("messageId"), "status": d.get("status"), "segNum": d.get("segNum"),
              "statusUpdateTs": d.get("statusUpdateTs")}
             for e in events or [] if isinstance(e, dict) and e.get("eventType") == "sms-delivery-report"
             and isinstance(d := e.get("data"), dict)]
    return message_statuses(items, tz, observed_at)
