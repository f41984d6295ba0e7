# ActionLab developer tasks. Everything runs inside a virtual environment ($(VENV)).
#
#   make demo    install, make the synthetic dataset, train TSM on it, test it, run inference
#   make test    install and run the test suite
#
# TORCH_SPEC is the PyTorch requirement installed when the environment has no torch yet.
# The default pins the release the project is tested with (on CPU-only machines with a
# local CPU wheel this avoids pulling the multi-GB CUDA build); use e.g.
# TORCH_SPEC='torch>=2.1' for the newest release.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
DEMO_DIR ?= work_dirs/demo
DATA_DIR ?= data/synthetic

.PHONY: install demo test lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m actionlab data synthetic $(DATA_DIR)
	$(PY) -m actionlab train configs/recognition/tsm/tsm_r18w16_1x1x8_20e_synthetic_rgb.py \
		--work-dir $(DEMO_DIR)/tsm --validate --seed 0
	$(PY) -m actionlab test configs/recognition/tsm/tsm_r18w16_1x1x8_20e_synthetic_rgb.py \
		$(DEMO_DIR)/tsm/latest.pth --eval top_k_accuracy mean_class_accuracy
	$(PY) -m actionlab infer configs/recognition/tsm/tsm_r18w16_1x1x8_20e_synthetic_rgb.py \
		$(DEMO_DIR)/tsm/latest.pth $(DATA_DIR)/videos/val/$$(ls $(DATA_DIR)/videos/val | head -n 1) \
		--label-map $(DATA_DIR)/classes.txt

test: install
	$(PY) -m pytest -q tests

lint: install
	$(PY) -m pip install -q ruff
	$(PY) -m ruff check actionlab tests benchmarks

clean:
	rm -rf $(VENV) work_dirs .pytest_cache
