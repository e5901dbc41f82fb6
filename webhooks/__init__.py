"""Delivery-report webhooks (API.md section 8): a receiver that verifies and durably stores the gateway's events."""
