"""Sources of samples (BLE, emulated BLE, replay, simulator) behind one stream type."""

from companion.sources.base import (
    LinkState,
    LinkStateChanged,
    SampleSource,
    SensorStats,
    SourceItem,
)

__all__ = ["LinkState", "LinkStateChanged", "SampleSource", "SensorStats", "SourceItem"]
