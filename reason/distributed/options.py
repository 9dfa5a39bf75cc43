"""What a distributed run needs to know: where the cluster is, how many replicas, what each holds.

Plain data: building `RayOptions` imports no Ray and starts nothing.
Leaves out: the run's own settings (dataset, strategy, backend), which stay in `RunConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from reason.errors import ReasonError
from reason.types import Frozen


class DistributedError(ReasonError):
    """A distributed run cannot go on: no cluster, too few resources, replicas gone, or retries used up."""


class RayOptions(Frozen):
    """How `run_benchmark` spreads a run over Ray.

    Example:
        >>> RayOptions(address="10.0.0.1:6379", replicas=4, replica_gpus=1).in_flight()
        8
    """

    address: str | None = None
    """An existing cluster ("HOST:6379", "ray://HOST:10001", "auto"). None: `RAY_ADDRESS` if set,
    else a local Ray runtime is started in this process."""
    replicas: int = Field(default=1, ge=1)
    """Model replicas: Ray actors that each hold one generator."""
    replica_cpus: float = Field(default=1.0, ge=0.0)
    """CPUs reserved per replica (an in-process vLLM engine on CPU uses them for its threads)."""
    replica_gpus: float = Field(default=0.0, ge=0.0)
    """GPUs reserved per replica: 1 for a vLLM engine on a GPU node; 0 for an HTTP client to a shared server."""
    max_in_flight: int | None = Field(default=None, ge=1)
    """Problems being solved at once across the cluster (backpressure). None: 2 per replica,
    so each replica has the next problem's calls queued while it answers the current ones."""
    search_cpus: float = Field(default=0.0, ge=0.0)
    """CPUs reserved per problem task; searchers mostly wait on replicas, so none by default."""
    retries: int = Field(default=3, ge=0)
    """Times a problem is retried after its worker or replica dies, before the run gives up."""
    replica_restarts: int = Field(default=3, ge=-1)
    """Times Ray restarts a dead replica (-1: without limit); problems are routed around it meanwhile."""
    local_cpus: int | None = Field(default=None, ge=1)
    """CPUs of a local runtime started here (None: all of this machine's)."""
    object_store_mb: int | None = Field(default=None, ge=75)
    """Object store size of a local runtime started here (None: Ray's default, 30% of memory)."""
    generator_factory: Callable[[], Any] | None = Field(default=None, exclude=True)
    """A picklable callable that builds a replica's generator; None builds the run's
    configured backend with its options (`make_generator(config.backend, **config.backend_options)`)."""

    def in_flight(self) -> int:
        return self.max_in_flight if self.max_in_flight is not None else 2 * self.replicas

    def ray_address(self, environ: dict[str, str]) -> str | None:
        """The cluster to join: the option, else `RAY_ADDRESS`, else None (start a local runtime)."""
        return self.address or environ.get("RAY_ADDRESS") or None
