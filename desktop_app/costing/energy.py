"""Energy and electricity cost of local answers: measured CPU power (RAPL) or a configured wattage."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

JOULES_PER_KWH = 3.6e6
POWERCAP = Path("/sys/class/powercap")


@dataclass(frozen=True)
class _Domain:
    energy_file: Path
    wrap_uj: int  # the counter wraps at this value


@dataclass(frozen=True)
class Reading:
    seconds: float
    counters_uj: tuple[int, ...]


class EnergyMeter:
    """Reads the CPU packages' energy counters when the OS lets us, else assumes a fixed draw.

    RAPL counts the whole CPU package, so other work on the machine during an answer is counted
    too; on a quiet machine that is close to the answer's real cost.
    """

    def __init__(self, watts: float, powercap: Path = POWERCAP) -> None:
        self.watts = watts
        self._domains = _readable_package_domains(powercap)

    @property
    def source(self) -> str:
        return "rapl" if self._domains else f"configured {self.watts:g} W"

    def read(self) -> Reading:
        counters = []
        for domain in self._domains:
            try:
                counters.append(int(domain.energy_file.read_text()))
            except (OSError, ValueError):
                counters.append(-1)
        return Reading(time.perf_counter(), tuple(counters))

    def joules(self, start: Reading, end: Reading) -> float:
        seconds = max(0.0, end.seconds - start.seconds)
        if not self._domains or -1 in start.counters_uj or -1 in end.counters_uj:
            return self.watts * seconds
        total_uj = 0
        for domain, before, after in zip(self._domains, start.counters_uj, end.counters_uj):
            total_uj += after - before if after >= before else after + domain.wrap_uj - before
        return total_uj / 1e6


def _readable_package_domains(powercap: Path) -> list[_Domain]:
    domains = []
    for zone in sorted(powercap.glob("intel-rapl:*")):
        if zone.name.count(":") != 1:  # subzones (core, dram) are inside the package already
            continue
        energy = zone / "energy_uj"
        try:
            int(energy.read_text())
            wrap = int((zone / "max_energy_range_uj").read_text())
        except (OSError, ValueError):
            continue  # since 2020 Linux makes energy_uj root-only; not readable means not measured
        domains.append(_Domain(energy, wrap))
    return domains


def electricity_cost_usd(joules: float, usd_per_kwh: float) -> float:
    return joules / JOULES_PER_KWH * usd_per_kwh


def cost_per_million_tokens(cost_usd: float, tokens: int) -> float | None:
    return cost_usd / tokens * 1e6 if tokens else None


SECONDS_PER_YEAR = 365.25 * 86400


def hardware_usd_per_second(price_usd: float, lifetime_years: float, busy_share: float) -> float:
    """The machine's price spread over the seconds it will spend answering in its lifetime."""
    if price_usd <= 0:
        return 0.0
    return price_usd / (lifetime_years * SECONDS_PER_YEAR * busy_share)
