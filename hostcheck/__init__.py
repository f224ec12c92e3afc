"""hostcheck: is this AMD Strix Halo host ready to serve large language models?"""

__version__ = "0.1.0"
