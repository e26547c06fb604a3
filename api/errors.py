"""One exception hierarchy for everything a user can act on.

Every message is one line that names the object (and the NIR node it came from), the limit
or the problem, and what to do. The CLI prints ``str(error)`` and exits with ``exit_code``;
anything that is not a ``NeuroccError`` is an internal error (exit status 1).
"""

from __future__ import annotations


class NeuroccError(Exception):
    """Base class: a problem with the user's input, options or environment."""

    exit_code = 2


class FrontendError(NeuroccError):
    """The NIR graph is malformed, inconsistent or uses something neurocc cannot compile."""


class UnsupportedError(FrontendError):
    """A NIR node type or parameter combination that neurocc does not support."""


class QuantizationError(NeuroccError):
    """Parameters cannot be represented in the target's number formats."""


class ResourceError(NeuroccError):
    """The network does not fit the hardware. ``violations`` lists every problem found."""

    exit_code = 3

    def __init__(self, violations: list[str] | str):
        if isinstance(violations, str):
            violations = [violations]
        self.violations = list(violations)
        if len(self.violations) == 1:
            msg = self.violations[0]
        else:
            msg = f"{len(self.violations)} hardware limits exceeded: " + "; ".join(self.violations)
        super().__init__(msg)


class ArtifactError(NeuroccError):
    """A compiled program file is missing, corrupted or from an incompatible version."""


class ConfigError(NeuroccError):
    """A hardware config is missing, malformed or lacks a field."""


class InputError(NeuroccError):
    """An input array has the wrong shape, type or values for the program."""


class BackendUnavailable(NeuroccError):
    """A backend's optional dependency is not installed."""


class BackendError(NeuroccError):
    """A backend failed or timed out while running a program."""

    exit_code = 1
