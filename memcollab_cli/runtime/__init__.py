"""Models behind one small protocol: chat messages in, text with token counts and timings out.

Engines: `llama` (embedded llama-cpp-python, the default), `batched` (the same weights with N
sequences decoded together, behind `--parallel N`), `server` (any OpenAI-compatible endpoint) and
`scripted` (canned replies, for tests). This package knows nothing of tasks or memory.
"""

from memcollab_cli.runtime.base import Completion, Message, Model, Request
from memcollab_cli.runtime.loader import load_model

__all__ = ["Completion", "Message", "Model", "Request", "load_model"]
