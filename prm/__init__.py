"""Process reward models: score each step of a partial solution.

`reason.reward` (the core) holds the seam (`PRM.score(problem, steps_batch) -> per-step scores`) and the
named aggregations; each implementation is its own module and registers under
`reason.prms`: `llm_judge` (the model asked "is this step right?", P(yes) from
logprobs), `hf` (published Hugging Face PRMs in four shapes, scored as their authors do), `from_verifier`
(a reference-free verifier as a PRM), `shipped` ("trained": a value head trained here over the bundled model,
shipped as its weights and card).
"""

from reason.reward import (
    PRM,
    STEP_REDUCTIONS,
    MeteredPRM,
    PRMSpec,
    build_prm,
)

__all__ = ["PRM", "STEP_REDUCTIONS", "MeteredPRM", "PRMSpec", "build_prm"]
