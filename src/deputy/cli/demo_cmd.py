"""``deputy demo``: the incident-desk story on 127.0.0.1 (docs/demo.md)."""

from __future__ import annotations

import os

import typer
from rich.console import Console

from deputy.cli.common import err_console

__all__ = ["demo"]


def demo(
    keep_running: bool = typer.Option(False, "--keep-running", help="Keep the servers up after the story (Ctrl-C stops them)."),
    llm_url: str | None = typer.Option(None, "--llm-url", help="An OpenAI-compatible API base, e.g. http://127.0.0.1:11434/v1 (default: the deterministic planner)."),
    llm_model: str | None = typer.Option(None, "--llm-model", help="The model name at --llm-url."),
    llm_key_env: str = typer.Option("OPENAI_API_KEY", "--llm-key-env", help="The environment variable holding the LLM API key (optional)."),
) -> None:
    """Play the story: Deputy, the incident desk and an MCP agent on 127.0.0.1; Jane and Bob ask the same question."""
    from deputy.demo.agent.brain import Brain, OpenAICompatible, Planner
    from deputy.demo.story import DemoOptions, run_demo
    from deputy.secret import Secret

    brain: Brain = Planner()
    if llm_url is not None or llm_model is not None:
        if not llm_url or not llm_model:
            err_console.print("give both --llm-url and --llm-model (or neither, for the deterministic planner)")
            raise typer.Exit(2)
        key = os.environ.get(llm_key_env)
        try:
            brain = OpenAICompatible(llm_url, llm_model, Secret(key) if key else None)
        except ValueError as exc:
            err_console.print(str(exc))
            raise typer.Exit(2) from None
    raise typer.Exit(run_demo(DemoOptions(brain=brain, keep_running=keep_running, console=Console())))
