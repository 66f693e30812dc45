"""memcollab: cross-model contrastive memory for local language models.

An implementation of MemCollab (Chang et al., "Cross-Model Memory Collaboration via Contrastive
Trajectory Distillation", arXiv 2603.23234). The library is usable without the CLI: every step
is a plain function over paths and options, on the method's two sides:

- `build/`: building memory (contrast two models' trajectories, distill, classify, merge,
  audit and refine a bank);
- `use/`: using memory and measuring it (route a task, recall entries, solve, evaluate, report,
  grade).

Below both: `memory/` (the bank and what is done to it without a model), `agent/` (episodes),
`tasks/` (benchmarks, verifiers, the sandbox), `runtime/` (models). `build/` may import `use/`
(distillation solves tasks), never the other way round.
"""

__version__ = "0.1.0"

# A llama.cpp built with a newer GCC than the system's (CUDA builds often are) must load its
# libstdc++ before other C++ extensions: on an H100 machine, importing rapidfuzz first made every
# model load segfault. So llama_cpp, when installed, is imported before anything else (~0.2 s).
try:
    import llama_cpp  # noqa: F401
except ImportError:
    pass
