"""cyclerctl: battery test protocols on potentiostats and cyclers."""

__version__ = "0.1.0"
