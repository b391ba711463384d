"""Nodes behind one driver protocol (``base.NodeDriver``): the Docker driver over three
transports (unix, tcp+TLS, ssh; ``transports/``), observing all nodes at once, images, stats."""
