"""Distillation losses (one registry) and the trainer."""
