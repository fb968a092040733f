"""How a step says it failed."""


class StepFailed(Exception):
    """The step's outcome is not the expected one: why."""
