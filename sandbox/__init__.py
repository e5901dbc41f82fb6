"""A local, wire-faithful emulator of the SMS gateway (Mobizon API v1): generated data, a simulated clock,
switchable faults, exact ground truth. numpy and the standard library only."""

from .data import SANDBOX_API_KEY, CampaignTruth, Clock, World
from .faults import Faults
from .gateway import Sandbox

__all__ = ["SANDBOX_API_KEY", "CampaignTruth", "Clock", "Faults", "Sandbox", "World"]
