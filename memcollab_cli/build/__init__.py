"""Building memory: two models' trajectories contrasted, constraints distilled, classified and
merged into a bank (`distill`), and a bank audited or refined against training tasks.

Imports `use/` where it must solve tasks; `use/` never imports this package.
"""
