"""The exception hierarchy, documented in one place.

EcrguardError                 base; the CLI prints ``error: <message>`` and exits 2
├── UsageError                bad flags or arguments
├── InputError                a file that cannot be read or parsed (malformed JSON/HCL, binary, missing)
│   └── PolicyParseError      a document that is not an IAM policy
├── EmulatorError             the embedded emulator failed to start or answer
└── LabError                  a lab step failed in a way that is not a finding
"""

from __future__ import annotations


class EcrguardError(Exception):
    """Base class. ``str(err)`` is a one-line message a user can act on."""


class UsageError(EcrguardError):
    pass


class InputError(EcrguardError):
    pass


class PolicyParseError(InputError):
    pass


class EmulatorError(EcrguardError):
    pass


class LabError(EcrguardError):
    pass
