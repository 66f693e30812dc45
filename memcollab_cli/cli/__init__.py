"""The Typer command-line interface: parse, call one library function, render. No pipeline logic."""
