"""Tests for grace_kernel.governance: stance, engine, service, approvals, events."""
