"""calf companion: coaching calf raises, tibialis raises and calf stretches from two IMUs."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
