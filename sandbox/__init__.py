"""A local, wire-faithful emulator of the SMS gateway (Mobizon API v1): generated data, a simulated clock,
switchable faults, exact ground truth. numpy and the standard library only."""

from .data import SANDBOX_API_KEY, CampaignTruth, Clock, Sandbox
from .faults import Faults

__all__ = ["SANDBOX_API_KEY", "CampaignTruth", "Clock", "Faults", "Sandbox"]
