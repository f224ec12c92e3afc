"""The cluster side: metrics and preflight Jobs of a node, fleets of many nodes' reports, and the
functional probe's Kubernetes Job."""
