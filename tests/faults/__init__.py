"""Faults injected on purpose: instruments, the database, the process, the operator's input."""
