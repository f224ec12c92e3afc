"""Facts in, findings out: the rule catalog (data, validated when it loads), the engine that runs
it, staged-versus-effective, waivers, the scan session that composes probes and rules, and the
check kinds (``kinds/``)."""
