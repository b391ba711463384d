"""Traffic fixtures against real engines: the proxy image on every engine (tests.proxy's)."""

from tests.proxy.conftest import proxied  # noqa: F401  (a fixture, used by name)
