"""The functional probe: prove with the serving stack's PyTorch that the GPU allocates the
profile's memory, copies at the expected speed and computes without hanging.

``probe_script.py`` is the standalone script (stdlib + torch, never imports hostcheck);
:func:`script_text` hands it to the Host's command runner, the Kubernetes Job generator and
anyone who wants to run it by hand.
"""

from importlib import resources

SCRIPT_NAME = "probe_script.py"


def script_text() -> str:
    """The probe script's source, as shipped in the package."""
    return resources.files(__package__).joinpath(SCRIPT_NAME).read_text(encoding="utf-8")
