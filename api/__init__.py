"""What users and every layer of neurocc share: the error hierarchy and JSON conversion."""

from neurocc.api.errors import (
                                ArtifactError,
                                BackendError,
                                BackendUnavailable,
                                ConfigError,
                                FrontendError,
                                InputError,
                                NeuroccError,
                                QuantizationError,
                                ResourceError,
                                UnsupportedError,
)
from neurocc.api.jsonable import jsonable

__all__ = ["ArtifactError", "BackendError", "BackendUnavailable", "ConfigError",
           "FrontendError", "InputError", "NeuroccError", "QuantizationError", "ResourceError",
           "UnsupportedError", "jsonable"]
