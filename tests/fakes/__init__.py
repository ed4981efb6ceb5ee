"""Fakes of services that cannot run in the tests (each named as a fake, backed by real parts)."""
