"""Settings of the property-based fuzz suite (hypothesis).

Bounded and derandomised by default, so `make test` and CI run the same examples in well
under a few minutes on 2 cores; `MEMSIM_FUZZ_EXAMPLES=N` scales every test's example
count by N/100 (see fuzz_strategies.examples) and `MEMSIM_FUZZ_RANDOM=1` draws fresh
examples (for a longer local fuzzing run).
No example database is written into the repository.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "memsim",
    derandomize=os.environ.get("MEMSIM_FUZZ_RANDOM") != "1",
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("memsim")
