"""How much to measure: the full plan, or --quick (fewer runs, the small sizes only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    quick: bool

    def runs(self, full: int) -> int:
        """Samples per side: at least 9 in a full run (the medians the targets are stated
        over); 3 in a quick one (the row says so)."""
        return 3 if self.quick else max(9, full)

    def sizes(self, *full: int) -> tuple[int, ...]:
        """A quick run measures the first (smallest) size only."""
        return full[:1] if self.quick else full
