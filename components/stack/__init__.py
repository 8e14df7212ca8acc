"""The stack config: composed from each area's section, loaded and reported here."""

from .config import StackConfig
from .errors import ConfigError
from .loading import load_stack_config, read_stack_config
from .secrets import placeholder_secrets, read_secrets, required_secrets

__all__ = ["ConfigError", "StackConfig", "load_stack_config", "placeholder_secrets", "read_secrets", "read_stack_config", "required_secrets"]
