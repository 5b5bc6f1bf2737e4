# The README's two commands: `make demo` and `make test`. Each creates .venv when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check

.PHONY: demo test fuzz bench lint format clean

$(VENV)/.installed-demo: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[demo,test]'
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(PY) -m nb_banana.demo notebooks/quickstart.ipynb demo-output

test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check nb_banana tests bench
	$(VENV)/bin/pytest

# Fresh random examples for the property tests (run it a few times after touching images.py).
fuzz: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=fuzz $(VENV)/bin/pytest tests/test_images.py tests/test_prompt.py

bench: $(VENV)/.installed-test
	$(PY) -m bench

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check nb_banana tests bench
	$(VENV)/bin/ruff format --check nb_banana tests bench

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format nb_banana tests bench

clean:
	rm -rf $(VENV) demo-output .pytest_cache .nb_banana
