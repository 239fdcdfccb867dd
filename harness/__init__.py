"""spikebench: run identical framework spikes under identical load and record honest numbers."""

__version__ = "0.1.0"
