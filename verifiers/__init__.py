"""Checking answers: extraction from model text, equivalence, and verifiers."""
