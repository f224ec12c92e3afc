"""Pure parser for ``rocminfo``: the agents and their memory pools."""

import re

from hostcheck._record import NamedTuple
from hostcheck.parse.text import ParseError

# --- rocminfo --------------------------------------------------------------------------------


class RocmAgent(NamedTuple):
    name: str
    device_type: str
    marketing_name: str
    pool_sizes_kib: tuple[int, ...]


class RocmInfo(NamedTuple):
    rock_module_version: str | None  # "6.16.6" with amdgpu-dkms; None with the in-kernel driver
    agents: tuple[RocmAgent, ...]

    def gpu_agents(self) -> list[RocmAgent]:
        return [agent for agent in self.agents if agent.device_type == "GPU"]


_POOL_SIZE = r"^\s*Size:\s*(?P<kib>[0-9]{1,20})\(0x[0-9a-fA-F]+\)\s*KB\s*$"


def parse_rocminfo(text: str) -> RocmInfo:
    """The agents and their memory pools from ``rocminfo`` (padding-tolerant, facts §9.5)."""
    rock = re.search(r"ROCk module version (\S+) is loaded", text)
    agents: list[RocmAgent] = []
    blocks = re.split(r"^\*+\s*\n\s*Agent \d+\s*\n\*+\s*$", text, flags=re.M)
    if len(blocks) < 2:
        raise ParseError("no 'Agent N' sections")
    for block in blocks[1:]:
        fields: dict[str, str] = {}
        pools: list[int] = []
        in_pools = False
        for line in block.splitlines():
            if line.strip().startswith("Pool Info:"):
                in_pools = True
                continue
            if in_pools:
                size = re.match(_POOL_SIZE, line)
                if size:
                    pools.append(int(size["kib"]))
                    continue
                if line.strip().startswith("ISA Info:"):
                    in_pools = False
            key, sep, value = line.partition(":")
            if sep and not line.startswith("    ") and key.strip() not in fields:
                fields[key.strip()] = value.strip()
        agents.append(
            RocmAgent(
                name=fields.get("Name", ""),
                device_type=fields.get("Device Type", ""),
                marketing_name=fields.get("Marketing Name", ""),
                pool_sizes_kib=tuple(pools),
            )
        )
    return RocmInfo(rock[1] if rock else None, tuple(agents))
