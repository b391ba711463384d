"""Node drivers: one docker-py driver with three transports (unix, tcp+TLS, ssh), and observing."""
