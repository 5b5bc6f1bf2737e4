"""Root pytest hooks: no test (notebook kernels included) may reach a real endpoint or key."""

import os


def pytest_configure(config):
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        os.environ.pop(name, None)
