"""Loads a Lambda handler module (functions/<name>/app.py) under a unique module name, as Lambda would."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_handler(name: str) -> ModuleType:
    module_name = f"functions_{name}_app"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


class LambdaContextStub:
    function_name = "local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:local"
    memory_limit_in_mb = 256
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/local"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30000
