"""The multi-turn solve loop: a turn is one model call; the hidden verifier grades the end."""

from memcollab_cli.agent.driver import run_episodes
from memcollab_cli.agent.episode import Episode, SolveParams

__all__ = ["Episode", "SolveParams", "run_episodes"]
