"""memcollab: cross-model contrastive memory for local language models.

An implementation of MemCollab (Chang et al., "Cross-Model Memory Collaboration via Contrastive
Trajectory Distillation", arXiv 2603.23234). The library is usable without the CLI: every
pipeline step in `memcollab_cli.pipeline` is a plain function over paths and options.
"""

__version__ = "0.1.0"
