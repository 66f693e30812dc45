"""The pipeline steps as plain functions over paths and options; the CLI is a thin layer on top."""
