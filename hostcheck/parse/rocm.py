"""Pure parser for ``rocminfo``: the agents and their memory pools."""

from hostcheck._record import NamedTuple
from hostcheck.parse.text import ParseError, ascii_hex, digit_run

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


# rocminfo's lines are read by str methods, not regexes (a scan would compile three patterns,
# ~0.3 ms); tests/parse/test_token_parsers.py checks each function against the pattern it
# replaces:
#   _rock_version   ROCk module version (\S+) is loaded  (searched)
#   _agent_blocks   re.split(r"^\*+\s*\n\s*Agent \d+\s*\n\*+\s*$", text, flags=re.M)
#   _pool_size      ^\s*Size:\s*(?P<kib>[0-9]{1,20})\(0x[0-9a-fA-F]+\)\s*KB\s*$  (matched)


def _rock_version(text: str) -> str | None:
    words = "ROCk module version "
    at = text.find(words)
    while at >= 0:
        start = end = at + len(words)
        while end < len(text) and not text[end].isspace():
            end += 1
        if end > start and text.startswith(" is loaded", end):
            return text[start:end]
        at = text.find(words, at + 1)
    return None


def _agent_blocks(text: str) -> list[str]:
    """The text cut at each ``*****`` / ``Agent N`` / ``*****`` header (the header left out)."""
    blocks: list[str] = []
    last = at = 0
    while True:
        if at == 0 or text[at - 1] == "\n":
            end = _agent_header(text, at)
            if end is not None:
                blocks.append(text[last:at])
                last = at = end
                continue
        at = text.find("\n", at) + 1
        if at == 0:
            break
    blocks.append(text[last:])
    return blocks


def _agent_header(text: str, start: int) -> int | None:
    """Where the header at a line's start ends (the pattern's $: at the end, or at the last
    newline of the white space after the second row of stars), or None."""
    n = len(text)

    def skip(at: int, stars: bool) -> int:
        while at < n and (text[at] == "*" if stars else text[at].isspace()):
            at += 1
        return at

    stars = skip(start, True)
    agent = skip(stars, False)
    if stars == start or "\n" not in text[stars:agent] or not text.startswith("Agent ", agent):
        return None
    digits = agent + 6
    while digits < n and text[digits].isdecimal():
        digits += 1
    second = skip(digits, False)
    if digits == agent + 6 or second == digits or text[second - 1] != "\n":
        return None
    after = skip(second, True)
    if after == second:
        return None
    end = skip(after, False)
    if end == n:
        return n
    newline = text.rfind("\n", after, end)
    return newline if newline >= 0 else None


def _pool_size(line: str) -> int | None:
    rest = line.lstrip()
    if not rest.startswith("Size:"):
        return None
    rest = rest[5:].lstrip()
    digits = digit_run(rest)
    if not 0 < digits <= 20 or not rest.startswith("(0x", digits):
        return None
    close = rest.find(")", digits + 3)
    number = rest[digits + 3 : close] if close >= 0 else ""
    after = rest[close + 1 :].lstrip()
    if not ascii_hex(number, len(number)) or not after.startswith("KB"):
        return None
    tail = after[2:]
    return int(rest[:digits]) if not tail or tail.isspace() else None


def parse_rocminfo(text: str) -> RocmInfo:
    """The agents and their memory pools from ``rocminfo`` (padding-tolerant, facts §9.5)."""
    rock = _rock_version(text)
    agents: list[RocmAgent] = []
    blocks = _agent_blocks(text)
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
                size = _pool_size(line)
                if size is not None:
                    pools.append(size)
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
    return RocmInfo(rock, tuple(agents))
