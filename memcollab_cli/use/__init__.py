"""Using memory and measuring it: routing a task to entries (`routing`, `memory.selection`,
`choose`), recalling them (`recall`), solving under an arm (`arms`, `solve`), comparing arms on
the same tasks (`evaluate`, `results`, `transfer`), reporting (`report`, `blame`) and grading
completion files (`grade`).
"""
