"""Open-file limits: every user of the pool holds a connection, and so does the gateway for it.

The runner raises its own limit before it starts anything, so the gateway and Locust inherit
it; when the system cannot allow what the pool needs, the run is refused in one line."""

from __future__ import annotations

import sys

from paystorm.processes import SetupError
from scenarios.model import Scenario

SPARE_FILES = 256  # Locust's or the gateway's own files, logs, the ledger, the sampler


def files_needed(scenario: Scenario, users: int) -> int:
    """Descriptors one process needs for `users` users: a connection per deadline a person
    may have (the app's, a weak link's, a till's), each kept open between arrivals."""
    per_user = 1
    if scenario.client.weak_network_share > 0:
        per_user += 1
    if scenario.mix.pos > 0:
        per_user += 1
    return users * per_user + SPARE_FILES


def raise_open_files(needed: int, what: str) -> int:
    """Raise this process's soft limit as far as the system allows (at least to `needed`),
    for its children to inherit. Returns the limit now in force; raises SetupError when it
    cannot reach `needed`."""
    if sys.platform == "win32":  # no RLIMIT_NOFILE; sockets are not counted against it there
        return needed
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:  # a privileged process may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            raise SetupError(
                f"{what} needs about {needed:,} open files and this system allows {hard:,} "
                f"(ulimit -Hn); raise the limit (ulimit -n {needed}) or set a smaller "
                "load.max_users"
            ) from None
    if soft == resource.RLIM_INFINITY:
        return needed
    # As far as allowed: the hard limit (or what is needed, when there is none).
    target = max(soft, needed) if hard == resource.RLIM_INFINITY else hard
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return int(target)
