"""The one command service: start, complete, fire timers, cancel, migrate (lock -> engine -> save -> projections)."""
