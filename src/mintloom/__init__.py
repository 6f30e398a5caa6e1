"""mintloom: creative infrastructure with provable, licensable, payable assets."""

from importlib.metadata import PackageNotFoundError, version

from mintloom.errors import MintloomError

try:
    __version__ = version("mintloom")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["MintloomError", "__version__"]
